package frontdoor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"
)

// Client-side timeouts of the HTTP front door, as nginx's client_header_timeout (60 s) and
// keepalive_timeout (75 s) bound them.
const (
	readHeaderTimeout = 30 * time.Second
	clientIdleTimeout = 75 * time.Second
)

// bodyBufferSize is the size of the buffers that copy response bodies.
const bodyBufferSize = 32 << 10

var bodyBuffers = sync.Pool{New: func() any {
	b := make([]byte, bodyBufferSize)
	return &b
}}

// errNoResponse marks a failure before any response byte arrived.
var errNoResponse = errors.New("connection closed before the response")

// httpServer serves HTTP mode: one net/http server per port.
type httpServer struct {
	fd        *frontDoor
	servers   []*http.Server
	listeners []net.Listener
	tunnels   sync.WaitGroup // upgraded connections, which net/http no longer tracks
}

func newHTTPServer(fd *frontDoor, listeners []net.Listener) *httpServer {
	s := &httpServer{fd: fd, listeners: listeners}
	errorLog := slog.NewLogLogger(fd.log.Handler(), slog.LevelWarn)
	for i := range listeners {
		s.servers = append(s.servers, &http.Server{
			Handler:                      &httpProxy{fd: fd, server: s, port: i},
			ReadHeaderTimeout:            readHeaderTimeout,
			IdleTimeout:                  clientIdleTimeout,
			DisableGeneralOptionsHandler: true,
			ErrorLog:                     errorLog,
		})
	}
	return s
}

func (s *httpServer) start(failed chan<- error) {
	for i, srv := range s.servers {
		go func() {
			err := srv.Serve(s.listeners[i])
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			failed <- err
		}()
	}
}

func (s *httpServer) shutdown(ctx context.Context) bool {
	var wg sync.WaitGroup
	finished := true
	var mu sync.Mutex
	for _, srv := range s.servers {
		wg.Go(func() {
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
				mu.Lock()
				finished = false
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return waitOrDone(ctx, &s.tunnels) && finished
}

// waitOrDone waits for wg until ctx is done, and reports whether wg finished.
func waitOrDone(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// httpProxy handles the requests of one port.
type httpProxy struct {
	fd     *frontDoor
	server *httpServer
	port   int // index into Config.Ports
}

func (h *httpProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.fd.requests.Add(1)
	if r.Method == http.MethodConnect {
		http.Error(w, "405 Method Not Allowed: the front door does not tunnel CONNECT", http.StatusMethodNotAllowed)
		return
	}
	if protocol := upgradeProtocol(r.Header); protocol != "" {
		h.serveUpgrade(w, r, protocol)
		return
	}

	b, c, err := h.fd.connect(r.Context(), h.port, false)
	if b == nil {
		h.fd.writeNoBackend(w)
		return
	}
	defer b.release()
	if err != nil {
		h.fd.writeBadGateway(w, b, "dial", err)
		return
	}
	h.exchange(w, r, b, c)
}

// exchange sends r over c and copies the response to w. A request that can be replayed is
// sent once more on a new connection when a reused c turns out to be closed. While the
// exchange runs, a cancelled request (the client went away) aborts c.
func (h *httpProxy) exchange(w http.ResponseWriter, r *http.Request, b *backend, c *upstreamConn) {
	stop := context.AfterFunc(r.Context(), c.abort)
	resp, err := h.roundTrip(r, c, "")
	if err != nil && c.reused && errors.Is(err, errNoResponse) && replayable(r) {
		stop()
		c.Close()
		c, err = b.pools[h.port].dial(r.Context())
		if err == nil {
			stop = context.AfterFunc(r.Context(), c.abort)
			resp, err = h.roundTrip(r, c, "")
		}
	}
	if err != nil {
		if c != nil {
			stop()
			c.discard()
		}
		h.fd.writeBadGateway(w, b, "request", err)
		return
	}
	if h.respond(w, r, b, c, resp, stop) {
		c.pool.put(c)
	}
}

// roundTrip sends the request head, starts sending the body, and reads the response head.
// While it waits, a cancelled request closes c.
func (h *httpProxy) roundTrip(r *http.Request, c *upstreamConn, upgrade string) (*http.Response, error) {
	c.buffers()
	head := requestHead{
		host:     r.Host,
		clientIP: clientIP(r.RemoteAddr),
		upgrade:  upgrade,
		chunked:  r.ContentLength < 0 && hasBody(r),
	}
	if head.host == "" {
		head.host = c.pool.addr
	}
	writeRequestHead(c.bw, r, head)

	if hasBody(r) {
		c.startBody(r, head.chunked)
	} else if err := c.bw.Flush(); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoResponse, err)
	}
	if _, err := c.br.Peek(1); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoResponse, err)
	}
	return http.ReadResponse(c.br, r)
}

// respond copies resp to w, then calls stop to end the abort on cancellation. It reports
// whether c can serve another request.
func (h *httpProxy) respond(w http.ResponseWriter, r *http.Request, b *backend, c *upstreamConn,
	resp *http.Response, stop func() bool) bool {
	resp, err := h.skipInformational(w, r, c, resp)
	if err != nil {
		stop()
		c.discard()
		h.fd.writeBadGateway(w, b, "response", err)
		return false
	}

	hdr := w.Header()
	copyResponseHeader(hdr, resp.Header)
	announceTrailers(hdr, resp.Trailer)
	w.WriteHeader(resp.StatusCode)
	readErr, writeErr := copyBody(w, resp.Body, resp.ContentLength < 0)
	for name, values := range resp.Trailer {
		hdr[name] = values
	}

	notCancelled := stop()
	bodyErr := c.finishBody()
	switch {
	case readErr != nil && notCancelled:
		c.discard()
		h.fd.backendFailed(b, "response body", readErr)
		panic(http.ErrAbortHandler) // net/http closes the client connection without logging
	case readErr != nil || writeErr != nil || bodyErr != nil || resp.Close || !notCancelled:
		c.discard()
		return false
	}
	return true
}

// skipInformational forwards 103 Early Hints and skips other 1xx responses before the
// final one.
func (h *httpProxy) skipInformational(w http.ResponseWriter, r *http.Request, c *upstreamConn, resp *http.Response) (*http.Response, error) {
	var err error
	for resp.StatusCode < 200 {
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return nil, errors.New("backend switched protocols without an upgrade request")
		}
		if resp.StatusCode == http.StatusEarlyHints {
			hdr := w.Header()
			copyResponseHeader(hdr, resp.Header)
			w.WriteHeader(http.StatusEarlyHints)
			clear(hdr)
		}
		if resp, err = http.ReadResponse(c.br, r); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

func announceTrailers(hdr http.Header, trailer http.Header) {
	if len(trailer) > 0 {
		hdr["Trailer"] = []string{strings.Join(headerNames(trailer), ", ")}
	}
}

// copyBody copies a response body to the client. A body of unknown length, such as a
// stream of server-sent events, is flushed after each read.
func copyBody(w http.ResponseWriter, body io.Reader, flush bool) (readErr, writeErr error) {
	bufp := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(bufp)
	buf := *bufp
	rc := http.NewResponseController(w)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, writeErr = w.Write(buf[:n]); writeErr != nil {
				return nil, writeErr
			}
			if flush {
				rc.Flush()
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}

// hasBody reports whether r carries a request body to forward.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// replayable reports whether r may be sent again after a failure that may have reached
// the backend: it has no body and an idempotent method or an idempotency key.
func replayable(r *http.Request) bool {
	if hasBody(r) {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return r.Header["Idempotency-Key"] != nil || r.Header["X-Idempotency-Key"] != nil
}

// startBody sends the request body in the background, so that a backend that answers
// before it read the whole body does not block the front door.
func (c *upstreamConn) startBody(r *http.Request, chunked bool) {
	c.bodyPending = true
	go func() {
		err := writeBody(c, r, chunked)
		if err != nil {
			c.Conn.Close() // a partial body leaves the connection out of sync
		}
		c.bodyErr <- err
	}()
}

func writeBody(c *upstreamConn, r *http.Request, chunked bool) error {
	if !chunked {
		n, err := io.CopyN(c.bw, r.Body, r.ContentLength)
		if err != nil {
			return fmt.Errorf("copy request body (%d of %d bytes): %w", n, r.ContentLength, err)
		}
		return c.bw.Flush()
	}
	if err := writeChunked(c, r); err != nil {
		return fmt.Errorf("copy chunked request body: %w", err)
	}
	return c.bw.Flush()
}

// writeChunked sends the body of r in chunked encoding, followed by its trailers.
func writeChunked(c *upstreamConn, r *http.Request) error {
	cw := httputil.NewChunkedWriter(c.bw)
	if _, err := io.Copy(cw, r.Body); err != nil {
		return err
	}
	if err := cw.Close(); err != nil {
		return err
	}
	for name, values := range r.Trailer {
		for _, v := range values {
			writeHeaderLine(c.bw, name, v)
		}
	}
	_, err := c.bw.WriteString("\r\n")
	return err
}

// finishBody waits for the body writer. A writer still running after the response
// finished means the backend did not read the whole body, so the connection is closed
// to stop it.
func (c *upstreamConn) finishBody() error {
	if !c.bodyPending {
		return nil
	}
	c.bodyPending = false
	select {
	case err := <-c.bodyErr:
		return err
	default:
	}
	c.Conn.Close()
	<-c.bodyErr
	return errors.New("backend answered before it read the request body")
}

// abort makes blocked reads and writes on c fail at once.
func (c *upstreamConn) abort() {
	c.SetDeadline(time.Unix(1, 0))
}

// discard closes c after a failed or incomplete exchange.
func (c *upstreamConn) discard() {
	c.Close()
	c.finishBody()
}
