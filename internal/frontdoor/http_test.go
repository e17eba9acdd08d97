package frontdoor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHTTP_BalancesOverAllBackends(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	setMembers(t, fd, 0, startNamedBackends(t, fd, 3)...)

	client := (&dialCounter{}).client()
	hits := map[string]int{}
	for range 30 {
		code, body := get(t, client, fd.url+"/")
		if code != http.StatusOK {
			t.Fatalf("status %d, want 200", code)
		}
		hits[body]++
	}
	for i := range 3 {
		if name := "web-" + strconv.Itoa(i); hits[name] < 5 {
			t.Errorf("backend %s got %d of 30 requests, want at least 5 (hits %v)", name, hits[name], hits)
		}
	}
}

func TestHTTP_NoBackendAnswers503(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)

	code, body := get(t, http.DefaultClient, fd.url+"/")
	if code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", code)
	}
	if !strings.Contains(body, `service "web" has no ready instance`) {
		t.Errorf("body %q does not say the service has no ready instance", body)
	}
	if got := status(t, fd).NoBackend; got != 1 {
		t.Errorf("status no_backend = %d, want 1", got)
	}
}

func TestHTTP_SwitchUnderKeepAliveLoad(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	const backendCount = 4
	var removed [backendCount]atomic.Bool
	backends := make([]Backend, backendCount)
	for i := range backendCount {
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if removed[i].Load() {
				http.Error(w, "request reached a removed backend", http.StatusTeapot)
				return
			}
			io.Copy(w, r.Body)
		})
		backends[i] = startHTTPBackend(t, fd, i, handler)
	}
	setMembers(t, fd, 0, backends[0], backends[1])

	ctx, stop := context.WithCancel(t.Context())
	var dials dialCounter
	var errs errorCount
	var requests atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		client := dials.client()
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if err := echo(client, fd.url, fmt.Sprintf("g%d-r%d", g, i), g%2 == 0); err != nil {
					errs.add(err)
				}
				requests.Add(1)
			}
		})
	}

	// Rotate the members: each step keeps one backend and replaces the other.
	// A backend responds 418 to a request that reaches it after SetMembers removed it.
	sets := [][2]int{{1, 2}, {2, 3}, {3, 0}, {0, 1}}
	for round := range 12 {
		next := sets[round%len(sets)]
		waitFor(t, "requests between swaps", func() bool { return requests.Load() > int64(200*(round+1)) })
		removed[next[0]].Store(false)
		removed[next[1]].Store(false)
		result := setMembers(t, fd, 5*time.Second, backends[next[0]], backends[next[1]])
		for _, d := range result.Removed {
			if d.InFlight != 0 {
				t.Errorf("round %d: backend %s drained with %d in flight, want 0", round, d.ID, d.InFlight)
			}
			removed[d.Slot].Store(true)
		}
	}
	stop()
	wg.Wait()

	if err := errs.err(); err != nil {
		t.Errorf("requests failed across membership switches: %v", err)
	}
	// The dial count alone is no proof: Go's transport returns a connection
	// to its pool after the body is read, in another goroutine, so a client
	// sometimes dials once more although no connection was dropped.
	if n := dials.closedByPeer(); n > 0 {
		t.Errorf("the front door closed %d keep-alive connections, want 0", n)
	}
	t.Logf("%d requests, %d connections", requests.Load(), dials.count())
}

// echo sends a GET with the message as query, or a POST with it as body, and checks that
// the backend echoed the body back.
func echo(client *http.Client, url, msg string, post bool) error {
	var resp *http.Response
	var err error
	if post {
		resp, err = client.Post(url+"/echo", "text/plain", strings.NewReader(msg))
	} else {
		resp, err = client.Get(url + "/echo?m=" + msg)
		msg = ""
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	if string(body) != msg {
		return fmt.Errorf("body %q, want %q", body, msg)
	}
	if resp.Close {
		return errors.New("the response closed the keep-alive connection (Connection: close)")
	}
	return nil
}

func TestHTTP_InFlightRequestOnRemovedBackendCompletes(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	slow := startHTTPBackend(t, fd, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Second)
		io.WriteString(w, "slow done")
	}))
	other := startHTTPBackend(t, fd, 1, nameHandler("web-1"))
	setMembers(t, fd, 0, slow)

	type answer struct {
		code int
		body string
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Get(fd.url + "/slow")
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		answered <- answer{resp.StatusCode, string(body), err}
	}()
	waitFor(t, "request in flight on the slow backend", func() bool { return inFlightOn(t, fd, slow.ID) == 1 })

	start := time.Now()
	result := setMembers(t, fd, 10*time.Second, other)
	elapsed := time.Since(start)

	got := <-answered
	if got.err != nil || got.code != http.StatusOK || got.body != "slow done" {
		t.Errorf("in-flight request: code %d, body %q, err %v; want 200 \"slow done\"", got.code, got.body, got.err)
	}
	if len(result.Removed) != 1 || result.Removed[0].ID != slow.ID || result.Removed[0].InFlight != 0 {
		t.Errorf("drain result %+v, want %s removed with 0 in flight", result.Removed, slow.ID)
	}
	if elapsed > 5*time.Second {
		t.Errorf("SetMembers took %s for a 2 s request", elapsed)
	}
	if code, body := get(t, http.DefaultClient, fd.url+"/"); code != http.StatusOK || body != "web-1" {
		t.Errorf("after the switch: status %d body %q, want 200 from web-1", code, body)
	}
}

func TestHTTP_DrainTimeoutBoundsStuckRequest(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	release := make(chan struct{})
	stuck := startHTTPBackend(t, fd, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	t.Cleanup(func() { close(release) }) // runs before the backend's Close, which waits for handlers
	other := startHTTPBackend(t, fd, 1, nameHandler("web-1"))
	setMembers(t, fd, 0, stuck)

	finished := make(chan error, 1)
	go func() {
		resp, err := http.Get(fd.url + "/stuck")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		finished <- err
	}()
	waitFor(t, "request in flight on the stuck backend", func() bool { return inFlightOn(t, fd, stuck.ID) == 1 })

	start := time.Now()
	result := setMembers(t, fd, 300*time.Millisecond, other)
	elapsed := time.Since(start)

	if elapsed < 300*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("SetMembers took %s, want about the 300ms drain timeout", elapsed)
	}
	if len(result.Removed) != 1 || result.Removed[0].InFlight != 1 {
		t.Errorf("drain result %+v, want one removed backend with 1 in flight", result.Removed)
	}
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Error("the stuck request was not ended after the drain timeout")
	}
}

func TestHTTP_DialFailureRetriesOtherBackend(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	live := startHTTPBackend(t, fd, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Write(body)
	}))
	dead := Backend{ID: "dead", Name: "web-dead", Slot: 1, Addr: backendAddr(7)} // nothing listens
	setMembers(t, fd, 0, dead, live)

	client := (&dialCounter{}).client()
	for i := range 10 {
		msg := "post-" + strconv.Itoa(i)
		if err := echo(client, fd.url, msg, true); err != nil {
			t.Fatalf("POST %d with a dead member: %v", i, err)
		}
	}
	var deadFailures uint64
	for _, b := range status(t, fd).Backends {
		if b.ID == dead.ID {
			deadFailures = b.Failures
		}
	}
	if deadFailures == 0 {
		t.Error("no dial failure counted on the dead backend, so the retry path did not run")
	}
}

func TestHTTP_RetriesClosedKeepAliveConnection(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	// The backend serves one request per connection and then closes it without saying
	// so, which leaves a dead connection in the front door's pool.
	ln, err := net.Listen("tcp", net.JoinHostPort(backendAddr(0), strconv.Itoa(fd.port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveOneRequestPerConn(ln)
	setMembers(t, fd, 0, Backend{ID: "once", Addr: backendAddr(0)})

	client := (&dialCounter{}).client()
	for i := range 3 {
		code, body := get(t, client, fd.url+"/")
		if code != http.StatusOK || body != "ok" {
			t.Errorf("GET %d: status %d body %q, want 200 ok", i, code, body)
		}
	}
}

func TestHTTP_CrashedBackendRetriesOtherBackend(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	live := startHTTPBackend(t, fd, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	// The crashing backend reads each request and closes the connection without a
	// response byte, as an instance that dies with the request in flight.
	ln, err := net.Listen("tcp", net.JoinHostPort(backendAddr(6), strconv.Itoa(fd.port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = http.ReadRequest(bufio.NewReader(conn))
			conn.Close()
		}
	}()
	crashing := Backend{ID: "crashing", Name: "web-crashing", Slot: 1, Addr: backendAddr(6)}
	setMembers(t, fd, 0, crashing, live)

	client := (&dialCounter{}).client()
	for i := range 10 {
		code, body := get(t, client, fd.url+"/")
		if code != http.StatusOK || body != "ok" {
			t.Errorf("GET %d: status %d body %q, want 200 ok from the live backend", i, code, body)
		}
	}
	var failures uint64
	for _, b := range status(t, fd).Backends {
		if b.ID == crashing.ID {
			failures = b.Failures
		}
	}
	if failures == 0 {
		t.Error("no failure counted on the crashing backend, so the retry path did not run")
	}
}

func serveOneRequestPerConn(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
				return
			}
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}()
	}
}

func TestHTTP_RewritesForwardingHeaders(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	received := make(chan http.Header, 1)
	b := startHTTPBackend(t, fd, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		received <- h
		w.Header().Set("Connection", "X-Secret")
		w.Header().Set("X-Secret", "hop")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-App", "end-to-end")
	}))
	setMembers(t, fd, 0, b)

	req, _ := http.NewRequest(http.MethodGet, fd.url+"/path?q=1", nil)
	req.Host = "shop.example"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "dropped")
	req.Header.Set("Proxy-Authorization", "Basic secret")
	req.Header.Set("X-Kept", "kept")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := <-received

	for name, want := range map[string]string{
		"Host":                "shop.example",
		"X-Forwarded-For":     "203.0.113.7, 127.0.0.1",
		"X-Forwarded-Proto":   "http",
		"X-Forwarded-Host":    "shop.example",
		"X-Kept":              "kept",
		"X-Hop":               "",
		"Proxy-Authorization": "",
	} {
		if v := got.Get(name); v != want {
			t.Errorf("backend got %s %q, want %q", name, v, want)
		}
	}
	for name, want := range map[string]string{"X-Secret": "", "Keep-Alive": "", "X-App": "end-to-end"} {
		if v := resp.Header.Get(name); v != want {
			t.Errorf("client got %s %q, want %q", name, v, want)
		}
	}
}

func TestHTTP_StreamsBodies(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	b := startHTTPBackend(t, fd, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// net/http stops reading a large request body once the response starts, so the
		// backend reads it all first.
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Sum")
		w.Write(body)
		w.Header().Set("X-Sum", strconv.Itoa(len(body)))
	}))
	setMembers(t, fd, 0, b)

	cases := []struct {
		name    string
		size    int
		chunked bool
	}{
		{"empty", 0, false},
		{"small content-length", 100, false},
		{"large content-length", 3 << 20, false},
		{"chunked", 1 << 20, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			payload := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16+1)[:tc.size]
			var body io.Reader = bytes.NewReader(payload)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length, so the client sends chunks
			}
			resp, err := http.Post(fd.url+"/", "application/octet-stream", body)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, payload) {
				t.Errorf("echoed %d bytes, want the %d sent", len(got), len(payload))
			}
			if sum := resp.Trailer.Get("X-Sum"); sum != strconv.Itoa(tc.size) {
				t.Errorf("trailer X-Sum %q, want %d", sum, tc.size)
			}
		})
	}
}

func TestHTTP_EarlyResponseBeforeBody(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	b := startHTTPBackend(t, fd, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	}))
	setMembers(t, fd, 0, b)

	resp, err := http.Post(fd.url+"/", "application/octet-stream", bytes.NewReader(make([]byte, 16<<20)))
	if err != nil {
		// The front door may close the connection while the client still sends the body.
		t.Logf("POST ended with %v", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
}

func TestHTTP_UpgradeTunnelDrains(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	ws := startHTTPBackend(t, fd, 0, http.HandlerFunc(upgradeEcho))
	other := startHTTPBackend(t, fd, 1, nameHandler("web-1"))
	setMembers(t, fd, 0, ws)

	conn, err := net.Dial("tcp", strings.TrimPrefix(fd.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "echo" {
		t.Fatalf("upgrade answer %d with Upgrade %q, want 101 echo", resp.StatusCode, resp.Header.Get("Upgrade"))
	}
	io.WriteString(conn, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("echo through the tunnel: %q, %v", line, err)
	}

	result := setMembers(t, fd, 200*time.Millisecond, other)
	if len(result.Removed) != 1 || result.Removed[0].InFlight != 1 {
		t.Errorf("drain result %+v, want the tunnel's backend removed with 1 in flight", result.Removed)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadString('\n'); err == nil {
		t.Error("tunnel still open after the drain timeout")
	}
}

// upgradeEcho switches to a line echo protocol.
func upgradeEcho(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "echo" {
		http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	for {
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		io.WriteString(conn, line)
	}
}

func TestHTTP_ShutdownFinishesInFlightRequest(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fd := &testFrontDoor{port: ln.Addr().(*net.TCPAddr).Port, url: "http://" + ln.Addr().String(), socket: socketPath(t)}
	b := startHTTPBackend(t, fd, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "done")
	}))
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, Config{Mode: ModeHTTP, Ports: []int{fd.port}, AdminSocket: fd.socket,
			Logger: testLogger(t), listeners: []net.Listener{ln}})
	}()
	waitFor(t, "admin socket", func() bool { _, err := Status(t.Context(), fd.socket); return err == nil })
	setMembers(t, fd, 0, b)

	answered := make(chan string, 1)
	go func() {
		resp, err := http.Get(fd.url + "/")
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		answered <- string(body)
	}()
	waitFor(t, "request in flight", func() bool { return inFlightOn(t, fd, b.ID) == 1 })
	cancel()

	if err := <-served; err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
	if body := <-answered; body != "done" {
		t.Errorf("in-flight request got %q, want done", body)
	}
}
