package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitTimeout bounds every wait for a knob's timer in these tests.
const waitTimeout = 5 * time.Second

// exitCall is one call of the fake exit function.
type exitCall struct {
	code   int
	reason string
	ready  bool
}

// fakeExit returns an exit function that reports its calls on the channel,
// with the worker's readiness at the time of the call.
func fakeExit(t testing.TB, w *worker) (func(int, string), <-chan exitCall) {
	t.Helper()

	calls := make(chan exitCall, 4)
	exit := func(code int, reason string) {
		calls <- exitCall{code: code, reason: reason, ready: w.ready.Load()}
	}

	return exit, calls
}

func waitExit(t testing.TB, calls <-chan exitCall) exitCall {
	t.Helper()

	select {
	case call := <-calls:
		return call
	case <-time.After(waitTimeout):
		t.Fatal("exit was not called")
		return exitCall{}
	}
}

func waitReady(t testing.TB, w *worker) {
	t.Helper()

	deadline := time.Now().Add(waitTimeout)
	for !w.ready.Load() {
		if time.Now().After(deadline) {
			t.Fatal("worker did not become ready")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStartKnobs_ReadyAfter(t *testing.T) {
	t.Parallel()
	w, _ := newTestWorker(t, false)
	w.cfg.readyAfter = 20 * time.Millisecond
	exit, _ := fakeExit(t, w)

	started := time.Now()
	w.startKnobs(t.Context(), exit)
	waitReady(t, w)

	if elapsed := time.Since(started); elapsed < w.cfg.readyAfter {
		t.Errorf("ready after %s, want at least %s", elapsed, w.cfg.readyAfter)
	}
}

func TestStartKnobs_ExitAfter(t *testing.T) {
	t.Parallel()
	w, _ := newTestWorker(t, false)
	w.cfg.exitAfter = 10 * time.Millisecond
	w.cfg.exitCode = 3
	exit, calls := fakeExit(t, w)

	w.startKnobs(t.Context(), exit)
	call := waitExit(t, calls)

	if call.code != 3 {
		t.Errorf("exit code = %d, want DEMO_EXIT_CODE 3", call.code)
	}
	if !strings.Contains(call.reason, "DEMO_EXIT_AFTER") {
		t.Errorf("reason %q does not name DEMO_EXIT_AFTER", call.reason)
	}
}

func TestStartKnobs_CrashAfterReady(t *testing.T) {
	t.Parallel()
	w, _ := newTestWorker(t, false)
	w.cfg.readyAfter = 10 * time.Millisecond
	w.cfg.crashAfterReady = 10 * time.Millisecond
	exit, calls := fakeExit(t, w)

	w.startKnobs(t.Context(), exit)
	call := waitExit(t, calls)

	if call.code != 1 {
		t.Errorf("exit code = %d, want 1", call.code)
	}
	if !call.ready {
		t.Error("crashed before the worker was ready")
	}
	if !strings.Contains(call.reason, "DEMO_CRASH_AFTER_READY") {
		t.Errorf("reason %q does not name DEMO_CRASH_AFTER_READY", call.reason)
	}
}

func TestStartKnobs_NeverReady(t *testing.T) {
	t.Parallel()
	w, _ := newTestWorker(t, false)
	w.cfg.neverReady = true
	w.cfg.crashAfterReady = time.Millisecond
	w.cfg.exitAfter = 100 * time.Millisecond
	w.cfg.exitCode = 7
	exit, calls := fakeExit(t, w)

	w.startKnobs(t.Context(), exit)
	call := waitExit(t, calls)

	if call.ready {
		t.Error("worker became ready with DEMO_NEVER_READY set")
	}
	if call.code != 7 {
		t.Errorf("first exit code = %d, want 7 from DEMO_EXIT_AFTER, not a crash after ready", call.code)
	}
}

func TestAllocate_TouchesBlocks(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()

	held := allocate(ctx, 1, 5*time.Millisecond)

	if len(held) == 0 {
		t.Fatal("allocated nothing in 100ms at one block per 5ms")
	}
	for i, block := range held {
		if len(block) != 1<<20 {
			t.Errorf("block %d has %d bytes, want 1 MiB", i, len(block))
		}
		if block[0] != 1 || block[len(block)-pageSize] != 1 {
			t.Errorf("block %d: pages not written", i)
		}
	}
}

func TestWaitForStop_Signals(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name          string
		ignoreSIGTERM bool
		sent          []os.Signal
		want          os.Signal
	}{
		{"SIGTERM stops", false, []os.Signal{syscall.SIGTERM}, syscall.SIGTERM},
		{"SIGINT stops", false, []os.Signal{syscall.SIGINT}, syscall.SIGINT},
		{
			"SIGTERM ignored", true,
			[]os.Signal{syscall.SIGTERM, syscall.SIGTERM, syscall.SIGINT}, syscall.SIGINT,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, _ := newTestWorker(t, true)
			w.cfg.ignoreSIGTERM = tt.ignoreSIGTERM
			signals := make(chan os.Signal, len(tt.sent))
			for _, sig := range tt.sent {
				signals <- sig
			}

			got, err := w.waitForStop(signals, make(chan error))

			if err != nil {
				t.Fatalf("waitForStop: %v", err)
			}
			if got != tt.want {
				t.Errorf("stopped on %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWaitForStop_ServeError(t *testing.T) {
	t.Parallel()
	w, _ := newTestWorker(t, true)
	serveErr := make(chan error, 1)
	serveErr <- errors.New("boom")

	_, err := w.waitForStop(make(chan os.Signal), serveErr)

	if err == nil || err.Error() != "boom" {
		t.Errorf("error = %v, want boom", err)
	}
}

func TestShutdown_DrainsInFlightRequest(t *testing.T) {
	t.Parallel()
	w, _ := newTestWorker(t, true)
	// net/http drops a request that was read as Shutdown began but had not
	// reached its handler, so the test waits for the handler to start.
	entered := make(chan struct{}, 1)
	handler := w.handler()
	server := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		handler.ServeHTTP(rw, r)
	}))
	t.Cleanup(server.Close)

	response := make(chan int, 1)
	go func() {
		resp, err := http.Get(server.URL + "/sleep?d=200ms")
		if err != nil {
			response <- 0
			return
		}
		resp.Body.Close()
		response <- resp.StatusCode
	}()
	<-entered

	code := w.shutdown(server.Config, syscall.SIGTERM)

	if code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	if status := <-response; status != http.StatusOK {
		t.Errorf("in-flight /sleep got status %d, want 200", status)
	}
	if !w.stopping.Load() {
		t.Error("worker not marked stopping")
	}
}

func TestCheckHealth_Status(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		status int
		want   int
	}{
		{"ok", http.StatusOK, 0},
		{"unavailable", http.StatusServiceUnavailable, 1},
		{"not found", http.StatusNotFound, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
				rw.WriteHeader(tt.status)
			}))
			t.Cleanup(server.Close)
			var out bytes.Buffer

			got := checkHealth(t.Context(), server.URL+"/healthz", &out)

			if got != tt.want {
				t.Errorf("exit code = %d, want %d", got, tt.want)
			}
			if !strings.Contains(out.String(), http.StatusText(tt.status)) {
				t.Errorf("output %q does not contain the status", out.String())
			}
		})
	}
}

func TestCheckHealth_Unreachable(t *testing.T) {
	t.Parallel()
	server := httptest.NewServer(http.NotFoundHandler())
	url := server.URL + "/healthz"
	server.Close()
	var out bytes.Buffer

	got := checkHealth(t.Context(), url, &out)

	if got != 1 {
		t.Errorf("exit code = %d, want 1", got)
	}
	if !strings.HasPrefix(out.String(), "healthcheck:") {
		t.Errorf("output %q, want a healthcheck: line", out.String())
	}
}

func TestLogExit_ReturnsCode(t *testing.T) {
	t.Parallel()

	for _, code := range []int{0, 1, 2} {
		if got := logExit(code, "test"); got != code {
			t.Errorf("logExit(%d) = %d", code, got)
		}
	}
}
