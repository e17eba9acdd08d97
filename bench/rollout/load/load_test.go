package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckTarget_Hosts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		url       string
		allowHost string
		wantErr   string
	}{
		{"ipv4 loopback", "http://127.0.0.1:8080/", "", ""},
		{"other loopback address", "http://127.0.0.2:8080/", "", ""},
		{"ipv6 loopback", "http://[::1]:8080/", "", ""},
		{"localhost", "http://localhost:8080/", "", ""},
		{"allowed service name", "http://bench-web:8080/", "bench-web", ""},
		{"private address", "http://10.0.0.5:8080/", "", "not a loopback address"},
		{"public name", "http://example.com/", "", "not a loopback address"},
		{"name not allowed", "http://bench-web:8080/", "", "not a loopback address"},
		{"other name than allowed", "http://other:8080/", "bench-web", "not a loopback address"},
		{"dotted allow-host", "http://example.com/", "example.com", "single-label"},
		{"https", "https://127.0.0.1/", "", "scheme must be http"},
		{"missing url", "", "", "missing -url"},
		{"missing host", "http:///path", "", "missing host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := checkTarget(tt.url, tt.allowHost)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("checkTarget(%q, %q) = %v, want no error", tt.url, tt.allowHost, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("checkTarget(%q, %q) = %v, want an error containing %q", tt.url, tt.allowHost, err, tt.wantErr)
			}
		})
	}
}

func TestDialLoopbackOnly_Addresses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		address string
		wantErr bool
	}{
		{"127.0.0.1:80", false},
		{"[::1]:80", false},
		{"10.0.0.5:80", true},
		{"192.168.1.1:80", true},
		{"no-port", true},
	}
	for _, tt := range tests {
		err := dialLoopbackOnly("tcp", tt.address, nil)
		if (err != nil) != tt.wantErr {
			t.Errorf("dialLoopbackOnly(%q) = %v, want error: %t", tt.address, err, tt.wantErr)
		}
	}
}

func TestGenerate_CountsFailures(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// Every third response is a 503, so the run gets both outcomes.
		if served.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(server.Close)
	cfg := testConfig(t, server.URL)
	cfg.duration = 200 * time.Millisecond

	res := generate(t.Context(), cfg)

	if res.Requests != served.Load() {
		t.Errorf("requests = %d, want %d, the count the server served", res.Requests, served.Load())
	}
	if want := served.Load() / 3; res.Non2xx != want {
		t.Errorf("non2xx = %d, want %d", res.Non2xx, want)
	}
	if res.Errors != 0 {
		t.Errorf("errors = %d, want 0; failures: %v", res.Errors, res.FirstFailures)
	}
	if len(res.FirstFailures) != maxFailures {
		t.Errorf("first_failures has %d entries, want %d", len(res.FirstFailures), maxFailures)
	}
	if res.FailureWindow <= 0 || res.FailureWindow > res.Duration {
		t.Errorf("failure_window = %.3fs, want more than 0 and at most the duration %.3fs", res.FailureWindow, res.Duration)
	}
	if res.Duration < cfg.duration.Seconds() {
		t.Errorf("duration = %.3fs, want at least %s", res.Duration, cfg.duration)
	}
}

func TestGenerate_StopFileAndRefusedConnections(t *testing.T) {
	t.Parallel()
	server := httptest.NewServer(http.NotFoundHandler())
	target := server.URL
	server.Close() // every request now fails with a refused connection
	cfg := testConfig(t, target)
	cfg.stopFile = filepath.Join(t.TempDir(), "stop")
	time.AfterFunc(100*time.Millisecond, func() {
		if err := os.WriteFile(cfg.stopFile, nil, 0o600); err != nil {
			t.Errorf("write stop file: %v", err)
		}
	})

	res := generate(t.Context(), cfg)

	if res.Requests == 0 {
		t.Fatal("requests = 0, want some before the stop file appeared")
	}
	if res.Errors != res.Requests {
		t.Errorf("errors = %d, want %d, every request", res.Errors, res.Requests)
	}
	if res.Duration > 5 {
		t.Errorf("duration = %.3fs, want the run to end soon after the stop file appeared", res.Duration)
	}
}

// testConfig returns a valid configuration of 4 clients against target.
func testConfig(tb testing.TB, target string) config {
	tb.Helper()
	cfg, err := parseFlags([]string{"-url", target, "-clients", "4", "-timeout", "2s"})
	if err != nil {
		tb.Fatalf("parseFlags: %v", err)
	}
	return cfg
}
