package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func target(t testing.TB, srv *httptest.Server, path string) Target {
	t.Helper()
	host, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return Target{Host: host, Port: n, HTTPPath: path}
}

func TestUntil_HTTPBecomesReady(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := Until(ctx, target(t, srv, "/healthz")); err != nil {
		t.Fatalf("Until: %v", err)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("calls = %d, want 3", got)
	}
}

func TestUntil_DeadlineReportsLastError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	err := Until(ctx, target(t, srv, "/healthz"))
	if err == nil {
		t.Fatal("Until returned nil for a server that always fails")
	}
	if want := "500 Internal Server Error"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

func TestOnce_TCP(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	tgt := target(t, srv, "")
	if err := Once(t.Context(), http.DefaultClient, tgt); err != nil {
		t.Fatalf("Once on an open port: %v", err)
	}
	srv.Close()
	if err := Once(t.Context(), http.DefaultClient, tgt); err == nil {
		t.Fatal("Once on a closed port returned nil")
	}
}
