// Command load is the load generator of the rollout benchmark. It runs
// -clients keep-alive HTTP clients that send GET requests to one URL, each
// waiting for its response before sending the next, until -duration
// passes, the -stop-file exists, or SIGINT or SIGTERM arrives. A request in
// flight at that moment still completes. It then prints one JSON object on
// stdout:
//
//	{"requests":N,"errors":N,"non2xx":N,"duration":S,"failure_window":S,"first_failures":[...]}
//
// errors counts transport errors (refused or reset connections, timeouts),
// non2xx counts responses with a status outside 200-299, and duration is
// the seconds from the first request to the last response. failure_window
// is the seconds from the first failed request to the last, and
// first_failures lists up to 10 failed requests with their time, to match
// against the rollout's events.
//
// The target must be a loopback address (127.0.0.0/8, ::1, or localhost),
// and every connection is checked again at dial time. The one exception is
// the host named by -allow-host, meant for a service name on a Docker
// network that the caller created, with the generator running in a
// container on that network.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run())
}

// run parses the flags, generates the load and prints the result. It
// returns the process exit code: 0, 1 when the result cannot be written,
// or 2 for invalid flags.
func run() int {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, err)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	res := generate(ctx, cfg)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "load: write result:", err)
		return 1
	}
	return 0
}
