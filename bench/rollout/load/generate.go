package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// maxFailures bounds the failures listed in the result.
const maxFailures = 10

// stopFilePoll is the interval between two checks for the stop file.
const stopFilePoll = 20 * time.Millisecond

// result is the JSON object the generator prints.
type result struct {
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	Non2xx   int64 `json:"non2xx"`
	// Duration is in seconds.
	Duration float64 `json:"duration"`
	// FailureWindow is the seconds from the first failed request to the
	// last one, or 0 without failures.
	FailureWindow float64   `json:"failure_window"`
	FirstFailures []failure `json:"first_failures,omitempty"`
}

// failure is one failed request: its transport error or its status.
type failure struct {
	Time  time.Time `json:"time"`
	Error string    `json:"error"`
}

// tally collects the outcome of every request from all clients.
type tally struct {
	requests, errors, non2xx atomic.Int64

	mu          sync.Mutex
	failures    []failure
	lastFailure time.Time
	first       sync.Once
	start       time.Time
}

// generate runs the clients until ctx ends or a stop condition of cfg is
// met, waits for the requests in flight, and returns the counts.
func generate(ctx context.Context, cfg config) result {
	ctx, cancel := stopContext(ctx, cfg)
	defer cancel()

	t := &tally{start: time.Now()}
	var wg sync.WaitGroup
	for range cfg.clients {
		client := newClient(cfg)
		wg.Go(func() { t.drive(ctx, client, cfg.target.String()) })
	}
	wg.Wait()
	return t.result(time.Since(t.start))
}

// stopContext returns a context that ends with ctx, after cfg.duration
// when it is set, or when cfg.stopFile exists when it is set.
func stopContext(ctx context.Context, cfg config) (context.Context, context.CancelFunc) {
	var cancel context.CancelFunc
	if cfg.duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	if cfg.stopFile != "" {
		go watchStopFile(ctx, cfg.stopFile, cancel)
	}
	return ctx, cancel
}

// watchStopFile calls cancel once path exists or ctx ends.
func watchStopFile(ctx context.Context, path string, cancel context.CancelFunc) {
	ticker := time.NewTicker(stopFilePoll)
	defer ticker.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			slog.Info("stop file found", "path", path)
			cancel()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// newClient returns a client with its own connection pool of one
// keep-alive connection, so that each client behaves as a separate user.
// It ignores proxy variables and follows no redirects, so every request
// goes to the target host.
func newClient(cfg config) *http.Client {
	dialer := &net.Dialer{Timeout: cfg.timeout}
	if cfg.allowHost == "" {
		dialer.Control = dialLoopbackOnly
	}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   cfg.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// drive sends requests one after another until ctx ends. The requests
// themselves do not use ctx, so the one in flight when ctx ends completes
// and is counted.
func (t *tally) drive(ctx context.Context, client *http.Client, target string) {
	for ctx.Err() == nil {
		t.record(send(client, target))
	}
}

// send performs one GET and reads the whole body. It returns the status
// code, or the transport error.
func send(client *http.Client, target string) (int, error) {
	resp, err := client.Get(target)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, nil
}

// record counts one request.
func (t *tally) record(status int, err error) {
	t.requests.Add(1)
	switch {
	case err != nil:
		t.errors.Add(1)
		t.fail(err.Error())
	case status < 200 || status > 299:
		t.non2xx.Add(1)
		t.fail(fmt.Sprintf("status %d", status))
	default:
		t.first.Do(func() {
			slog.Info("first response", "after", time.Since(t.start).Round(time.Millisecond))
		})
	}
}

// fail keeps the first maxFailures failures and the time of the last one.
func (t *tally) fail(message string) {
	at := time.Now().UTC()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastFailure = at
	if len(t.failures) < maxFailures {
		t.failures = append(t.failures, failure{Time: at, Error: message})
	}
}

func (t *tally) result(elapsed time.Duration) result {
	t.mu.Lock()
	defer t.mu.Unlock()
	window := 0.0
	if len(t.failures) > 0 {
		window = t.lastFailure.Sub(t.failures[0].Time).Seconds()
	}
	return result{
		FailureWindow: window,
		Requests:      t.requests.Load(),
		Errors:        t.errors.Load(),
		Non2xx:        t.non2xx.Load(),
		Duration:      elapsed.Seconds(),
		FirstFailures: t.failures,
	}
}
