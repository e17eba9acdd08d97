package frontdoor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// States of a client connection, for shutdown: an idle connection may be closed at once.
const (
	stateIdle int32 = iota
	stateActive
	stateClosed
)

// errNoResponse marks a failure before any response byte arrived.
var errNoResponse = errors.New("connection closed before the response")

// clientConn is one client connection in HTTP mode. One goroutine serves its requests in
// turn; a second one sends a request body to the backend while the first reads the
// response.
type clientConn struct {
	srv   *httpServer
	port  int // index into Config.Ports
	conn  net.Conn
	ip    string
	br    *bufio.Reader
	bw    *bufio.Writer
	state atomic.Int32

	req, resp head
	trailer   head // response trailer fields
	headLen   int  // bytes of the request head still in br
	respLen   int  // bytes of the response head in the backend's buffer

	readMoved, writeMoved time.Time // when the deadlines were last moved
}

func (c *clientConn) serve() {
	defer c.srv.conns.done(c)
	for c.serveRequest() && c.idle() {
	}
	c.close()
}

// lingerTimeout bounds how long a closing connection reads and drops what the client still
// sends. Closing a socket with unread input makes the kernel send a reset, which can
// destroy the last response before the client read it.
const lingerTimeout = 500 * time.Millisecond

// close closes the connection after its last response: it closes the write side, then
// drops input until the client closes too or lingerTimeout passes.
func (c *clientConn) close() {
	defer c.conn.Close()
	if c.state.Load() == stateClosed {
		return
	}
	tcp, ok := c.conn.(*net.TCPConn)
	if !ok || tcp.CloseWrite() != nil {
		return
	}
	c.conn.SetReadDeadline(time.Now().Add(lingerTimeout))
	bufp := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(bufp)
	for {
		if _, err := c.conn.Read(*bufp); err != nil {
			return
		}
	}
}

// idle marks the connection as waiting for a request. It reports false when the server is
// shutting down.
func (c *clientConn) idle() bool {
	c.state.Store(stateIdle)
	return !c.srv.conns.closing.Load()
}

// serveRequest reads one request and proxies it. It reports whether the connection can
// serve another request.
func (c *clientConn) serveRequest() bool {
	c.moveReadDeadline()
	raw, err := peekHead(c.br, true)
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		return false // closed by shutdown
	}
	if errors.Is(err, errHeadTooLarge) {
		c.reject(http.StatusRequestHeaderFieldsTooLarge, err.Error())
		return false
	}
	if err != nil {
		return false // the client closed the connection or timed out
	}

	c.headLen = len(raw)
	c.srv.fd.requests.Add(1)
	if status, err := c.req.parseRequest(raw); err != nil {
		c.reject(status, err.Error())
		return false
	}
	if status, reason := c.req.checkRequest(); status != 0 {
		c.reject(status, reason)
		return false
	}
	keep := c.proxy()
	c.discardHead()
	return keep
}

// reject responds to an invalid request with status and closes the connection afterwards.
func (c *clientConn) reject(status int, reason string) {
	c.srv.fd.log.Debug("request rejected", "service", c.srv.fd.cfg.Service, "client", c.ip,
		"status", status, "reason", reason)
	c.writeError(status, strconv.Itoa(status)+" "+http.StatusText(status)+": "+reason+"\n", false)
}

// discardHead consumes the request head from the read buffer, which ends the validity of
// the slices in c.req.
func (c *clientConn) discardHead() {
	c.br.Discard(c.headLen)
	c.headLen = 0
}

// proxy sends the request to a backend and relays the response.
func (c *clientConn) proxy() bool {
	upgrade := c.req.connUpgrade && c.req.upgrade != nil
	b, up, err := c.srv.fd.connect(context.Background(), c.port, upgrade)
	if b == nil {
		c.srv.fd.noBackendFailed()
		keep := c.keepAlive() && !c.req.hasBody()
		c.writeError(http.StatusServiceUnavailable, c.srv.fd.noBackendMessage, keep)
		return keep
	}
	defer b.release()
	if err != nil {
		return c.badGateway(b, "dial", err)
	}
	return c.exchange(b, up, upgrade)
}

// exchange sends the request over up and relays the response. A request that can be
// replayed is sent once more on a new connection when a reused up turns out to be closed.
// It is also sent once to another backend when its backend failed before any response
// byte, as when an instance crashes with the request in flight.
func (c *clientConn) exchange(b *backend, up *upstreamConn, upgrade bool) bool {
	err := c.send(up, upgrade)
	if err == nil {
		err = c.readResponseHead(up)
	}
	// replay is set when nothing of a response arrived for a request that may
	// be sent again (no body, an idempotent method). Such a request goes to
	// another backend when the retry on its own backend fails in any way.
	replay := err != nil && errors.Is(err, errNoResponse) && c.req.replayable()
	if replay && up.reused {
		up.Close()
		if up, err = b.pools[c.port].dial(context.Background()); err == nil {
			if err = c.send(up, upgrade); err == nil {
				err = c.readResponseHead(up)
			}
		}
	}
	if replay && err != nil {
		if other := c.srv.fd.members.pick(b); other != nil {
			if up != nil {
				up.discard(c)
			}
			c.srv.fd.backendFailed(b, "request", err)
			defer other.release()
			b = other
			if up, err = other.conn(context.Background(), c.port, true); err == nil {
				if err = c.send(up, upgrade); err == nil {
					err = c.readResponseHead(up)
				}
			}
		}
	}
	if err == nil && c.resp.status == http.StatusSwitchingProtocols && !upgrade {
		err = errors.New("backend switched protocols without an upgrade request")
	}
	if err != nil {
		if up != nil {
			up.discard(c)
		}
		return c.badGateway(b, "request", err)
	}
	c.discardHead() // no retry from here on
	if upgrade && c.resp.status == http.StatusSwitchingProtocols {
		c.tunnel(up)
		return false
	}
	return c.relay(b, up, upgrade)
}

// send writes the request head to up and starts sending the body.
func (c *clientConn) send(up *upstreamConn, upgrade bool) error {
	up.buffers()
	writeRequestHead(up.bw, &c.req, c.ip, up.pool.addr, upgrade)
	if !c.req.hasBody() {
		if err := up.bw.Flush(); err != nil {
			return fmt.Errorf("%w: %w", errNoResponse, err)
		}
		return nil
	}
	if c.req.minor == 1 && c.req.expect != nil {
		// The client waits for this before it sends the body. The Expect field is not
		// forwarded, so the backend does not send its own.
		c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := c.flush(); err != nil {
			return err
		}
	}
	c.discardHead()
	up.startBody(c)
	return nil
}

// readResponseHead parses the response head from up into c.resp, forwarding 103 Early
// Hints to HTTP/1.1 clients and skipping other interim responses.
//
// NOTE: nothing reads the client connection while the front door waits here, so a client
// that disconnects is noticed only when the response is written. Until then the backend
// keeps working on the request, and a drain waits for it (up to the drain timeout).
func (c *clientConn) readResponseHead(up *upstreamConn) error {
	for first := true; ; first = false {
		raw, err := peekHead(up.br, false)
		if err != nil {
			if first && up.br.Buffered() == 0 {
				return fmt.Errorf("%w: %w", errNoResponse, err)
			}
			return fmt.Errorf("read response head: %w", err)
		}
		if err := c.resp.parseResponse(raw); err != nil {
			return fmt.Errorf("parse response head: %w", err)
		}
		c.respLen = len(raw)
		if c.resp.status >= 200 || c.resp.status == http.StatusSwitchingProtocols {
			return nil
		}
		if c.resp.status == http.StatusEarlyHints && c.req.minor == 1 {
			c.writeInterim()
		}
		up.br.Discard(len(raw))
	}
}

// relay writes the response head and copies the body. It reports whether the client
// connection can serve another request. Unless upgradeRequested is set, up goes back to
// its pool when it can be reused.
func (c *clientConn) relay(b *backend, up *upstreamConn, upgradeRequested bool) bool {
	framing, length := c.resp.responseFraming(c.req.isHead)
	chunked := framing >= bodyChunked && c.req.minor == 1
	keep := c.keepAlive() && (framing <= bodyLength || chunked)

	c.writeResponseHead(framing, length, chunked, keep)
	up.br.Discard(c.respLen)
	readErr, writeErr := c.copyResponseBody(up, framing, length, chunked)
	bodyErr := up.finishBody(c)

	switch {
	case readErr != nil:
		up.discard(c)
		c.srv.fd.backendFailed(b, "response body", readErr)
		return false
	case writeErr != nil || bodyErr != nil || upgradeRequested || !c.resp.reusable(framing):
		up.discard(c)
	default:
		up.pool.put(up)
	}
	return keep && writeErr == nil && bodyErr == nil
}

// tunnel joins the client and backend connections after a 101 response.
func (c *clientConn) tunnel(up *upstreamConn) {
	defer up.Close()
	if up.finishBody(c) != nil {
		return
	}
	c.writeSwitchingProtocols()
	up.br.Discard(c.respLen)
	if c.flush() != nil {
		return
	}
	c.conn.SetDeadline(time.Time{})
	join(c.conn, c.br, up.Conn, up.br)
}

// badGateway responds 502 after a backend failed before its response. It reports whether
// the connection can go on, which it cannot when a request body is left unread.
func (c *clientConn) badGateway(b *backend, op string, err error) bool {
	c.srv.fd.backendFailed(b, op, err)
	keep := c.keepAlive() && !c.req.hasBody()
	c.writeError(http.StatusBadGateway, "502 Bad Gateway: the instance failed before it responded\n", keep)
	return keep
}

// keepAlive reports whether the client wants the connection kept open after the response.
func (c *clientConn) keepAlive() bool {
	if c.req.connClose || c.srv.conns.closing.Load() {
		return false
	}
	return c.req.minor == 1 || c.req.connKeepAlive
}

// flush sends the buffered response bytes to the client.
func (c *clientConn) flush() error {
	c.moveWriteDeadline()
	return c.bw.Flush()
}

func (c *clientConn) moveReadDeadline() {
	if now := time.Now(); now.Sub(c.readMoved) >= deadlineSlack {
		c.readMoved = now
		c.conn.SetReadDeadline(now.Add(clientTimeout))
	}
}

func (c *clientConn) moveWriteDeadline() {
	if now := time.Now(); now.Sub(c.writeMoved) >= deadlineSlack {
		c.writeMoved = now
		c.conn.SetWriteDeadline(now.Add(clientTimeout))
	}
}

// writeError sends a complete plain-text response generated by the front door.
func (c *clientConn) writeError(status int, msg string, keep bool) {
	c.moveWriteDeadline()
	bw := c.bw
	writeStatusLine(bw, status, nil)
	bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ")
	bw.WriteString(strconv.Itoa(len(msg)))
	if !keep {
		bw.WriteString("\r\nConnection: close")
	}
	bw.WriteString("\r\n\r\n")
	bw.WriteString(msg)
	c.flush()
}

// checkRequest validates a parsed request beyond its syntax. It returns the status code
// and message to respond with, or 0.
func (h *head) checkRequest() (int, string) {
	switch {
	case h.hasTE && h.minor == 0:
		return http.StatusBadRequest, "Transfer-Encoding in an HTTP/1.0 request"
	case h.hasTE && h.contentLength >= 0:
		return http.StatusBadRequest, "both Content-Length and Transfer-Encoding"
	case h.hasTE && (!h.chunked || h.otherCoding):
		return http.StatusNotImplemented, "Transfer-Encoding other than chunked"
	case h.hosts > 1 || (h.minor == 1 && h.hosts == 0):
		return http.StatusBadRequest, "missing or repeated Host"
	case string(h.method) == http.MethodConnect:
		return http.StatusMethodNotAllowed, "the front door does not tunnel CONNECT"
	case h.expect != nil && !equalFold(h.expect, "100-continue"):
		return http.StatusExpectationFailed, "unsupported Expect"
	}
	return h.checkTarget()
}

// checkTarget accepts the origin form, "*" for OPTIONS, and the absolute form, whose
// authority replaces the Host field (RFC 9112 section 3.2.2).
func (h *head) checkTarget() (int, string) {
	switch {
	case h.target[0] == '/':
		return 0, ""
	case len(h.target) == 1 && h.target[0] == '*':
		if string(h.method) != http.MethodOptions {
			return http.StatusBadRequest, "target * is only valid for OPTIONS"
		}
		return 0, ""
	}
	_, rest, ok := bytes.Cut(h.target, []byte("://"))
	scheme := h.target[:len(h.target)-len(rest)]
	if !ok || (!equalFold(scheme, "http://") && !equalFold(scheme, "https://")) {
		return http.StatusBadRequest, "invalid request target"
	}
	end := bytes.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	h.host, h.target = rest[:end], rest[end:]
	return 0, ""
}

// hasBody reports whether the request carries a body.
func (h *head) hasBody() bool {
	return h.chunked || h.contentLength > 0
}

// replayable reports whether the request may be sent again after a failure that may have
// reached the backend: it has no body and an idempotent method or an Idempotency-Key.
func (h *head) replayable() bool {
	return !h.hasBody() && (h.idempotentVerb || h.idempotent)
}
