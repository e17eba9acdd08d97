// Command proxy runs the front door for the benchmark: it serves HTTP on one port and sets
// the backends given on the command line as its members.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clusterctl/clusterctl/internal/frontdoor"
)

func main() {
	listen := flag.String("listen", "127.0.0.1", "IP address to listen on")
	port := flag.Int("port", 8080, "port to listen on and to dial backends on")
	backends := flag.String("backends", "127.0.0.2", "comma-separated backend IP addresses")
	socket := flag.String("socket", "", "admin socket path")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := frontdoor.Config{Mode: frontdoor.ModeHTTP, Ports: []int{*port}, ListenAddr: *listen,
		AdminSocket: *socket, Service: "bench", Logger: logger}
	served := make(chan error, 1)
	go func() { served <- frontdoor.Serve(ctx, cfg) }()

	if err := setMembers(ctx, served, *socket, *backends); err != nil {
		log.Fatal(err)
	}
	if err := <-served; err != nil {
		log.Fatal(err)
	}
}

// setMembers waits for the admin socket, then sets the backends. It returns the error of
// Serve when Serve ends first.
func setMembers(ctx context.Context, served chan error, socket, addrs string) error {
	var m frontdoor.Membership
	for i, addr := range strings.Split(addrs, ",") {
		m.Backends = append(m.Backends, frontdoor.Backend{ID: "b" + strconv.Itoa(i), Name: addr, Slot: i, Addr: addr})
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := frontdoor.SetMembers(ctx, socket, m)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case err := <-served:
			return fmt.Errorf("front door stopped: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
