package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// config is the load generator's command line.
type config struct {
	target    *url.URL
	allowHost string
	clients   int
	duration  time.Duration
	stopFile  string
	timeout   time.Duration
}

// parseFlags parses the command line and checks the target URL.
func parseFlags(args []string) (config, error) {
	var cfg config
	var rawURL string
	var usage strings.Builder
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(&usage)
	fs.StringVar(&rawURL, "url", "", "target URL, http only; its host must be a loopback address or the -allow-host name")
	fs.StringVar(&cfg.allowHost, "allow-host", "", "one single-label host name, such as a service name on your own Docker network, allowed as the target host")
	fs.IntVar(&cfg.clients, "clients", 16, "number of keep-alive clients, each with one request in flight at a time")
	fs.DurationVar(&cfg.duration, "duration", 0, "how long to send requests, e.g. 30s; 0 runs until the stop file or a signal")
	fs.StringVar(&cfg.stopFile, "stop-file", "", "path whose appearance stops the load, polled every 20ms")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "deadline of one request, from dial to the end of the response body")

	if err := fs.Parse(args); err != nil {
		// The flag set has written the error, unless it is flag.ErrHelp,
		// and then the flags' usage to usage.
		if errors.Is(err, flag.ErrHelp) {
			return cfg, fmt.Errorf("%w\n%s", err, usage.String())
		}
		return cfg, errors.New(strings.TrimSpace(usage.String()))
	}
	if err := checkCounts(fs, cfg); err != nil {
		return cfg, err
	}

	target, err := checkTarget(rawURL, cfg.allowHost)
	cfg.target = target
	return cfg, err
}

// checkCounts rejects positional arguments and out-of-range numbers.
func checkCounts(fs *flag.FlagSet, cfg config) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: every setting is a flag", fs.Arg(0))
	}
	if cfg.clients < 1 {
		return fmt.Errorf("invalid -clients %d: use 1 or more", cfg.clients)
	}
	if cfg.timeout <= 0 || cfg.duration < 0 {
		return errors.New("invalid -timeout or -duration: use a positive -timeout and a -duration of 0 or more")
	}
	return nil
}

// checkTarget parses rawURL and rejects it unless its scheme is http and
// its host is a loopback IP address, "localhost", or exactly allowHost.
// allowHost, when set, must be a single DNS label that is not an IP address.
func checkTarget(rawURL, allowHost string) (*url.URL, error) {
	if allowHost != "" && (strings.Contains(allowHost, ".") || strings.Contains(allowHost, ":")) {
		return nil, fmt.Errorf("invalid -allow-host %q: use a single-label name such as a Docker service name", allowHost)
	}
	if rawURL == "" {
		return nil, errors.New("missing -url: pass a loopback URL such as http://127.0.0.1:8080/")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("invalid -url %q: %w", rawURL, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("invalid -url %q: the scheme must be http", rawURL)
	}
	host := u.Hostname()
	switch {
	case host == "":
		return nil, fmt.Errorf("invalid -url %q: missing host", rawURL)
	case host == allowHost, strings.EqualFold(host, "localhost"):
		return u, nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return u, nil
	}
	return nil, fmt.Errorf("rejected -url %q: host %s is not a loopback address. Use 127.0.0.1, ::1 or localhost, "+
		"or name a host on your own Docker network with -allow-host", rawURL, host)
}

// dialLoopbackOnly is a net.Dialer Control function that rejects every
// connection to an address outside 127.0.0.0/8 and ::1, for example when
// "localhost" resolves elsewhere.
func dialLoopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("dial %s rejected: not a loopback address", address)
	}
	return nil
}
