package frontdoor

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Buffer sizes of one client connection. A request head must fit in the read buffer.
const (
	clientReadBuffer  = maxHeadBytes
	clientWriteBuffer = 8 << 10
)

// clientTimeout closes a client connection that makes no progress for this long: while
// idle between requests, while sending a request head (in total), and at any one stalled
// read of a request body or write of a response. nginx's client_header_timeout,
// client_body_timeout and send_timeout default to the same 60 s.
const clientTimeout = 60 * time.Second

// deadlineSlack is the minimum time between two moves of one connection deadline, so that
// moving it costs a timer update at most once per second.
const deadlineSlack = time.Second

// httpServer serves HTTP mode.
type httpServer struct {
	fd        *frontDoor
	listeners []net.Listener
	conns     connTracker[*clientConn]
}

func newHTTPServer(fd *frontDoor, listeners []net.Listener) *httpServer {
	return &httpServer{fd: fd, listeners: listeners}
}

func (s *httpServer) start(failed chan<- error) {
	for i, ln := range s.listeners {
		go func() {
			failed <- acceptLoop(s.fd, ln, func(conn net.Conn) { s.serveConn(conn, i) })
		}()
	}
}

func (s *httpServer) serveConn(conn net.Conn, port int) {
	c := &clientConn{
		srv:  s,
		port: port,
		conn: conn,
		ip:   hostOnly(conn.RemoteAddr().String()),
		br:   bufio.NewReaderSize(conn, clientReadBuffer),
		bw:   bufio.NewWriterSize(conn, clientWriteBuffer),
	}
	if !s.conns.add(c) {
		conn.Close()
		return
	}
	go c.serve()
}

// shutdown stops accepting, closes idle connections and lets the others finish their
// current request. Connections still open when ctx is done are closed.
func (s *httpServer) shutdown(ctx context.Context) bool {
	closeAll(s.listeners)
	for _, c := range s.conns.close() {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.conn.Close()
		}
	}
	if s.conns.wait(ctx) {
		return true
	}
	for _, c := range s.conns.all() {
		c.conn.Close()
	}
	return false
}

// connTracker counts connections and stops adding them once closed.
type connTracker[T comparable] struct {
	mu      sync.Mutex
	closing atomic.Bool
	conns   map[T]struct{}
	wg      sync.WaitGroup
}

// add tracks c, unless the tracker is closed.
func (t *connTracker[T]) add(c T) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing.Load() {
		return false
	}
	if t.conns == nil {
		t.conns = make(map[T]struct{})
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1)
	return true
}

func (t *connTracker[T]) done(c T) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	t.wg.Done()
}

// close stops adding and returns the tracked connections.
func (t *connTracker[T]) close() []T {
	t.mu.Lock()
	t.closing.Store(true)
	t.mu.Unlock()
	return t.all()
}

func (t *connTracker[T]) all() []T {
	t.mu.Lock()
	defer t.mu.Unlock()
	all := make([]T, 0, len(t.conns))
	for c := range t.conns {
		all = append(all, c)
	}
	return all
}

// wait waits until every tracked connection is done or ctx is done, and reports which.
func (t *connTracker[T]) wait(ctx context.Context) bool {
	return waitOrDone(ctx, &t.wg)
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

// maxAcceptDelay caps the back-off after a failed accept, as net/http does.
const maxAcceptDelay = time.Second

// acceptLoop hands each accepted connection to handle until ln is closed.
func acceptLoop(fd *frontDoor, ln net.Listener, handle func(net.Conn)) error {
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			delay = min(max(2*delay, 5*time.Millisecond), maxAcceptDelay)
			fd.log.Warn("accept failed", "service", fd.cfg.Service, "addr", ln.Addr().String(),
				"error", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		handle(conn)
	}
}

// hostOnly returns the host part of a host:port address.
func hostOnly(addr string) string {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr
	}
	return strings.Trim(addr[:i], "[]")
}
