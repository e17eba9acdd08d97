package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const (
	// shutdownTimeout bounds the wait for in-flight requests after SIGTERM.
	// The container's stop grace period usually ends the process sooner.
	shutdownTimeout = 30 * time.Second

	// flushTimeout bounds the final export of spans and metrics.
	flushTimeout = 5 * time.Second

	// readHeaderTimeout limits how long a client may take to send headers.
	readHeaderTimeout = 10 * time.Second

	exitInvalidConfig = 2

	pageSize = 4096
)

// run starts the worker and serves until SIGTERM or SIGINT, then returns the
// process exit code. ctx bounds only the telemetry setup.
func run(ctx context.Context) int {
	hostname, _ := os.Hostname()
	cfg, err := loadConfig(os.Getenv, hostname)
	if err != nil {
		return logExit(exitInvalidConfig, err.Error())
	}
	tel, err := newTelemetry(ctx, os.Getenv)
	if err != nil {
		return logExit(exitInvalidConfig, err.Error())
	}
	w := &worker{cfg: cfg, tel: tel}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)

	listener, err := net.Listen("tcp", ":"+cfg.port)
	if err != nil {
		return logExit(1, fmt.Sprintf("listen on port %s: %v", cfg.port, err))
	}
	server := &http.Server{Handler: w.handler(), ReadHeaderTimeout: readHeaderTimeout}
	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(listener) }()

	w.logStart(listener.Addr())
	w.startKnobs(context.Background(), exitProcess)

	sig, err := w.waitForStop(signals, serveErr)
	if err != nil {
		return logExit(1, fmt.Sprintf("serve: %v", err))
	}

	return w.shutdown(server, sig)
}

func (w *worker) logStart(addr net.Addr) {
	slot := "none"
	if w.cfg.slot != nil {
		slot = fmt.Sprint(*w.cfg.slot)
	}
	slog.Info("worker started",
		"addr", addr.String(),
		"service", w.cfg.service,
		"instance_id", w.cfg.instanceID,
		"version", w.cfg.version,
		"slot", slot,
		"pid", os.Getpid())
}

// waitForStop blocks until a signal that stops the worker arrives or the
// server fails. With DEMO_IGNORE_SIGTERM=1 it logs SIGTERM and keeps waiting.
func (w *worker) waitForStop(signals <-chan os.Signal, serveErr <-chan error) (os.Signal, error) {
	for {
		select {
		case err := <-serveErr:
			return nil, err
		case sig := <-signals:
			if sig == syscall.SIGTERM && w.cfg.ignoreSIGTERM {
				slog.Info("ignoring SIGTERM because DEMO_IGNORE_SIGTERM is set")
				continue
			}
			return sig, nil
		}
	}
}

// shutdown fails the readiness check, waits for in-flight requests, flushes
// telemetry and returns exit code 0. A drain or flush that times out is
// logged and still exits 0.
func (w *worker) shutdown(server *http.Server, sig os.Signal) int {
	started := time.Now()
	w.stopping.Store(true)

	drainCtx, cancelDrain := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancelDrain()
	drainErr := server.Shutdown(drainCtx)

	flushCtx, cancelFlush := context.WithTimeout(context.Background(), flushTimeout)
	defer cancelFlush()
	if err := errors.Join(drainErr, w.tel.shutdown(flushCtx)); err != nil {
		slog.Warn("shutdown incomplete", "error", err)
	}

	slog.Info("worker stopped",
		"signal", sig.String(),
		"duration", time.Since(started).Round(time.Millisecond))
	return 0
}

// startKnobs starts the timers and the allocation loop that the DEMO_*
// variables ask for. exit ends the process, and tests pass a fake. ctx stops the
// allocation loop.
func (w *worker) startKnobs(ctx context.Context, exit func(code int, reason string)) {
	if w.cfg.exitAfter > 0 {
		time.AfterFunc(w.cfg.exitAfter, func() {
			exit(w.cfg.exitCode, fmt.Sprintf("DEMO_EXIT_AFTER=%s elapsed", w.cfg.exitAfter))
		})
	}

	if !w.cfg.neverReady {
		time.AfterFunc(w.cfg.readyAfter, func() { w.becomeReady(exit) })
	}

	if w.cfg.allocMBPerSec > 0 {
		go allocate(ctx, w.cfg.allocMBPerSec, time.Second)
	}
}

func (w *worker) becomeReady(exit func(code int, reason string)) {
	w.ready.Store(true)
	slog.Info("worker ready")

	if w.cfg.crashAfterReady > 0 {
		time.AfterFunc(w.cfg.crashAfterReady, func() {
			exit(1, fmt.Sprintf("DEMO_CRASH_AFTER_READY=%s elapsed since ready", w.cfg.crashAfterReady))
		})
	}
}

// allocate adds mebibytes of memory every interval and writes one byte to
// each page, so the pages count against the container's memory limit. It
// holds all of it until ctx is done.
func allocate(ctx context.Context, mebibytes int, interval time.Duration) [][]byte {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	var held [][]byte
	for {
		select {
		case <-ctx.Done():
			return held
		case <-ticker.C:
		}

		block := make([]byte, mebibytes<<20)
		for i := 0; i < len(block); i += pageSize {
			block[i] = 1
		}
		held = append(held, block)
		slog.Info("allocated memory", "total_mib", len(held)*mebibytes)
	}
}

// exitProcess logs the reason and ends the process with code.
func exitProcess(code int, reason string) {
	os.Exit(logExit(code, reason))
}

// logExit logs the line that precedes every deliberate exit and returns code.
func logExit(code int, reason string) int {
	level := slog.LevelInfo
	if code != 0 {
		level = slog.LevelError
	}
	slog.Log(context.Background(), level, fmt.Sprintf("exiting with code %d: %s", code, reason))

	return code
}
