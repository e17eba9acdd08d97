package frontdoor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testFrontDoor is a front door serving one port on 127.0.0.1, with backends on the same
// port on 127.0.0.2, 127.0.0.3, and so on.
type testFrontDoor struct {
	port   int
	url    string
	socket string
}

// backendAddr returns the loopback address of backend i, which listens on the front door's
// port because the front door dials backends on its own port number.
func backendAddr(i int) string {
	return "127.0.0." + strconv.Itoa(i+2)
}

// startFrontDoor starts a front door in mode and returns it once its admin socket responds.
// Serve stops, and must return nil, when the test ends.
func startFrontDoor(t testing.TB, mode string) *testFrontDoor {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	fd := &testFrontDoor{port: port, url: "http://" + ln.Addr().String(), socket: socketPath(t)}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := Config{
		Mode: mode, Ports: []int{port}, AdminSocket: fd.socket, Service: "web",
		ShutdownTimeout: 2 * time.Second, Logger: testLogger(t), listeners: []net.Listener{ln},
	}
	go func() { done <- Serve(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v, want nil", err)
		}
	})
	waitFor(t, "admin socket", func() bool {
		_, err := Status(t.Context(), fd.socket)
		return err == nil
	})
	return fd
}

// socketPath returns a unix socket path in a temporary directory, short enough for the
// 108-byte limit of unix socket paths.
func socketPath(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if len(dir) > 80 {
		var err error
		if dir, err = os.MkdirTemp("", "fd"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	return filepath.Join(dir, "admin.sock")
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startHTTPBackend serves handler on backend address i and the front door's port.
func startHTTPBackend(t testing.TB, fd *testFrontDoor, i int, handler http.Handler) Backend {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(backendAddr(i), strconv.Itoa(fd.port)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return Backend{ID: "id-" + strconv.Itoa(i), Name: "web-" + strconv.Itoa(i), Slot: i, Addr: backendAddr(i)}
}

// nameHandler responds with the backend name in the body and the X-Backend header.
func nameHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name)
	})
}

// startNamedBackends starts n backends that respond with their name.
func startNamedBackends(t testing.TB, fd *testFrontDoor, n int) []Backend {
	t.Helper()
	backends := make([]Backend, n)
	for i := range n {
		backends[i] = startHTTPBackend(t, fd, i, nameHandler("web-"+strconv.Itoa(i)))
	}
	return backends
}

func setMembers(t testing.TB, fd *testFrontDoor, drain time.Duration, backends ...Backend) DrainResult {
	t.Helper()
	result, err := SetMembers(context.Background(), fd.socket, Membership{Backends: backends, DrainTimeout: drain})
	if err != nil {
		t.Fatalf("SetMembers: %v", err)
	}
	return result
}

func status(t testing.TB, fd *testFrontDoor) StatusReport {
	t.Helper()
	report, err := Status(context.Background(), fd.socket)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return report
}

// inFlightOn returns the requests in flight on the backend with id.
func inFlightOn(t testing.TB, fd *testFrontDoor, id string) int {
	t.Helper()
	for _, b := range status(t, fd).Backends {
		if b.ID == id {
			return b.InFlight
		}
	}
	return 0
}

// get sends a GET and returns the status code and body.
func get(t testing.TB, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// dialCounter counts the connections that the clients it makes open, and
// those that the server closed while the client still held them.
type dialCounter struct {
	mu         sync.Mutex
	dials      int
	peerClosed int
}

func (d *dialCounter) client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 4,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var dialer net.Dialer
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			d.mu.Lock()
			d.dials++
			d.mu.Unlock()
			return &countedConn{Conn: conn, counter: d}, nil
		},
	}}
}

func (d *dialCounter) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials
}

// closedByPeer returns how many connections the server closed before the
// client did.
func (d *dialCounter) closedByPeer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.peerClosed
}

// countedConn records a read that fails before the client closed the
// connection: the server closed it, or reset it.
type countedConn struct {
	net.Conn
	counter *dialCounter
	closed  atomic.Bool
	counted atomic.Bool
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && !c.closed.Load() && c.counted.CompareAndSwap(false, true) {
		c.counter.mu.Lock()
		c.counter.peerClosed++
		c.counter.mu.Unlock()
	}
	return n, err
}

func (c *countedConn) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}

// errorCount collects errors from load goroutines.
type errorCount struct {
	mu     sync.Mutex
	errors []error
}

func (e *errorCount) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errors = append(e.errors, err)
}

func (e *errorCount) err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errors) == 0 {
		return nil
	}
	return fmt.Errorf("%d errors, first ones: %w", len(e.errors), errors.Join(e.errors[:min(len(e.errors), 5)]...))
}
