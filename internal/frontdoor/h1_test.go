package frontdoor

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawConn opens a plain TCP connection to the front door.
func rawConn(t testing.TB, fd *testFrontDoor) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(fd.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn, bufio.NewReader(conn)
}

// readResponse reads one response with its body.
func readResponse(t testing.TB, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	return resp, string(body)
}

// headerEcho responds with the method, target, Host and selected request fields.
func headerEcho(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Target", r.RequestURI)
	w.Header().Set("X-Host", r.Host)
	w.Header().Set("X-Expect", r.Header.Get("Expect"))
	w.Header().Set("X-Body", string(body))
	if r.URL.Path == "/stream" {
		w.Header().Set("X-Stream", "yes")
		w.(http.Flusher).Flush() // no Content-Length: net/http sends chunks
		io.WriteString(w, "part one,")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part two")
		return
	}
	io.WriteString(w, "hello")
}

func TestH1_RejectsInvalidRequests(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	setMembers(t, fd, 0, startHTTPBackend(t, fd, 0, http.HandlerFunc(headerEcho)))

	cases := []struct {
		name    string
		request string
		want    int
	}{
		{"content-length and chunked", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"two content-lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
		{"signed content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400},
		{"gzip coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501},
		{"chunked in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", 400},
		{"obsolete line folding", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400},
		{"control character in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n", 400},
		{"missing host", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
		{"garbage", "HELLO\r\n\r\n", 400},
		{"CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405},
		{"unknown expectation", "POST / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\nContent-Length: 1\r\n\r\na", 417},
		{"head too large", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("x", 17<<10) + "\r\n\r\n", 431},
		{"star target for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, br := rawConn(t, fd)
			io.WriteString(conn, tc.request)
			resp, _ := readResponse(t, br, http.MethodGet)
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if resp.Header.Get("X-Method") != "" {
				t.Error("the request reached the backend")
			}
			if !resp.Close {
				t.Error("connection kept open after an invalid request")
			}
		})
	}
}

func TestH1_PipelinedRequests(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	setMembers(t, fd, 0, startHTTPBackend(t, fd, 0, http.HandlerFunc(headerEcho)))

	conn, br := rawConn(t, fd)
	io.WriteString(conn, "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"+
		"POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"+
		"HEAD /four HTTP/1.1\r\nHost: a\r\n\r\n")
	for _, want := range []struct{ method, target, body string }{
		{"GET", "/one", ""}, {"POST", "/two", "body"}, {"POST", "/three", "abcde"}, {"HEAD", "/four", ""},
	} {
		resp, body := readResponse(t, br, want.method)
		if got := resp.Header.Get("X-Target"); got != want.target {
			t.Errorf("response for %s, want %s", got, want.target)
		}
		if got := resp.Header.Get("X-Body"); got != want.body {
			t.Errorf("%s: backend read body %q, want %q", want.target, got, want.body)
		}
		if want.method == "HEAD" && (body != "" || resp.ContentLength != 5) {
			t.Errorf("HEAD: body %q, Content-Length %d; want no body and 5", body, resp.ContentLength)
		}
	}
}

func TestH1_ProtocolVersionsAndFraming(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	setMembers(t, fd, 0, startHTTPBackend(t, fd, 0, http.HandlerFunc(headerEcho)))

	cases := []struct {
		name      string
		request   string
		body      string
		chunked   bool
		close     bool
		keepAlive string // Connection header value; net/http removes "close" and sets Close
	}{
		{"1.1 keeps alive", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "hello", false, false, ""},
		{"1.1 close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "hello", false, true, ""},
		{"1.0 closes", "GET / HTTP/1.0\r\n\r\n", "hello", false, true, ""},
		{"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "hello", false, false, "keep-alive"},
		{"1.1 stream is chunked", "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n", "part one,part two", true, false, ""},
		{"1.0 stream until close", "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "part one,part two", false, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, br := rawConn(t, fd)
			io.WriteString(conn, tc.request)
			resp, body := readResponse(t, br, http.MethodGet)
			if body != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if chunked := len(resp.TransferEncoding) > 0; chunked != tc.chunked {
				t.Errorf("chunked %v, want %v", chunked, tc.chunked)
			}
			if resp.Close != tc.close {
				t.Errorf("close %v, want %v", resp.Close, tc.close)
			}
			if got := resp.Header.Get("Connection"); got != tc.keepAlive {
				t.Errorf("Connection %q, want %q", got, tc.keepAlive)
			}
			if tc.close {
				if _, err := br.ReadByte(); err != io.EOF {
					t.Errorf("read after the last response: %v, want EOF", err)
				}
			}
		})
	}
}

func TestH1_AbsoluteFormTarget(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	setMembers(t, fd, 0, startHTTPBackend(t, fd, 0, http.HandlerFunc(headerEcho)))

	conn, br := rawConn(t, fd)
	io.WriteString(conn, "GET http://shop.example:8080?x=1 HTTP/1.1\r\nHost: ignored\r\n\r\n")
	resp, _ := readResponse(t, br, http.MethodGet)
	if got := resp.Header.Get("X-Target"); got != "/?x=1" {
		t.Errorf("backend got target %q, want /?x=1", got)
	}
	if got := resp.Header.Get("X-Host"); got != "shop.example:8080" {
		t.Errorf("backend got Host %q, want shop.example:8080", got)
	}
}

func TestH1_ExpectContinue(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	setMembers(t, fd, 0, startHTTPBackend(t, fd, 0, http.HandlerFunc(headerEcho)))

	conn, br := rawConn(t, fd)
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	interim, err := br.ReadString('\n')
	if err != nil || interim != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line %q, %v; want 100 Continue", interim, err)
	}
	br.ReadString('\n')
	io.WriteString(conn, "data")
	resp, _ := readResponse(t, br, http.MethodPost)
	if got := resp.Header.Get("X-Body"); got != "data" {
		t.Errorf("backend read body %q, want data", got)
	}
	if got := resp.Header.Get("X-Expect"); got != "" {
		t.Errorf("backend got Expect %q, want it removed", got)
	}
}

func TestH1_ForwardsEarlyHints(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	setMembers(t, fd, 0, startHTTPBackend(t, fd, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "final")
	})))

	var hints []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		hints = append(hints, code)
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, fd.url+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(hints) != 1 || hints[0] != http.StatusEarlyHints {
		t.Errorf("interim responses %v, want [103]", hints)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "final" {
		t.Errorf("final response %d %q, want 200 final", resp.StatusCode, body)
	}
}

func TestH1_ParseRequest(t *testing.T) {
	t.Parallel()
	var h head
	raw := "GET /a?b HTTP/1.1\r\nhost: x\r\nconnection: keep-alive, X-Hop, Upgrade\r\nContent-Length: 3, 3\r\n" +
		"upgrade: websocket\r\nX-Hop: 1\r\nIdempotency-Key: k\r\n\r\n"
	if status, err := h.parseRequest([]byte(raw)); err != nil {
		t.Fatalf("parse: %d %v", status, err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"method", string(h.method) == "GET"},
		{"target", string(h.target) == "/a?b"},
		{"host", string(h.host) == "x" && h.hosts == 1},
		{"content length", h.contentLength == 3},
		{"keep-alive", h.connKeepAlive && !h.connClose},
		{"upgrade", h.connUpgrade && string(h.upgrade) == "websocket"},
		{"connection tokens", len(h.connTokens) == 1 && string(h.connTokens[0]) == "X-Hop"},
		{"listed field is hop-by-hop", h.hopByHop(h.fields[4])},
		{"a body is not replayable", !h.replayable()},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: parsed head %+v", c.name, h)
		}
	}
}

// FuzzH1_ParseHeads checks that no input makes the head parsers panic.
func FuzzH1_ParseHeads(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("POST http://a/b HTTP/1.0\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nConnection: close, X-A\r\nContent-Length: 3, 3\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var h head
		if _, err := h.parseRequest(raw); err == nil && len(h.target) > 0 {
			h.checkRequest()
		}
		if h.parseResponse(raw) == nil {
			h.responseFraming(false)
		}
		h.parseTrailer(raw)
		headEnd(raw)
	})
}

// startScriptedBackend responds to every request on backend address i with response, then
// closes the connection when closeAfter is set.
func startScriptedBackend(t testing.TB, fd *testFrontDoor, i int, response string, closeAfter bool) Backend {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(backendAddr(i), strconv.Itoa(fd.port)))
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
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					io.WriteString(conn, response)
					if closeAfter {
						return
					}
				}
			}()
		}
	}()
	return Backend{ID: "scripted-" + strconv.Itoa(i), Addr: backendAddr(i)}
}

func TestH1_BackendResponses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		response   string
		closeAfter bool
		wantStatus int
		wantBody   string
		wantChunks bool
	}{
		{"close-delimited body", "HTTP/1.1 200 OK\r\n\r\nuntil close", true, 200, "until close", true},
		{"HTTP/1.0 backend", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", true, 200, "ok", false},
		{"Connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", true, 200, "ok", false},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n", false, 200, "ok", true},
		{"empty reason", "HTTP/1.1 201\r\nContent-Length: 0\r\n\r\n", false, 201, "", false},
		{"oversized head", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("x", 17<<10) + "\r\n\r\n", true, 502, "", false},
		{"malformed status", "HTTP/1.1 2OO OK\r\n\r\n", true, 502, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fd := startFrontDoor(t, ModeHTTP)
			setMembers(t, fd, 0, startScriptedBackend(t, fd, 0, tc.response, tc.closeAfter))
			conn, br := rawConn(t, fd)
			for i := range 2 { // the second request checks that the client connection still works
				io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
				resp, body := readResponse(t, br, http.MethodGet)
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("request %d: status %d, want %d", i, resp.StatusCode, tc.wantStatus)
				}
				if tc.wantStatus == 200 && body != tc.wantBody {
					t.Errorf("request %d: body %q, want %q", i, body, tc.wantBody)
				}
				if chunked := len(resp.TransferEncoding) > 0; chunked != tc.wantChunks {
					t.Errorf("request %d: chunked %v, want %v", i, chunked, tc.wantChunks)
				}
				if strings.Contains(tc.response, "X-T: 1") && resp.Trailer.Get("X-T") != "1" {
					t.Errorf("request %d: trailer X-T %q, want 1", i, resp.Trailer.Get("X-T"))
				}
			}
		})
	}
}
