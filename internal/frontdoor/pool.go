package frontdoor

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// Buffer sizes of one upstream connection.
const (
	upstreamReadBuffer  = 16 << 10
	upstreamWriteBuffer = 8 << 10
)

// checkIdleAfter is the idle time after which a pooled connection is checked for a close
// sent by the backend before it is reused. Servers close idle keep-alive connections after
// seconds (Node.js after 5 s by default), never within this time.
const checkIdleAfter = 500 * time.Millisecond

var errBackendClosed = errors.New("backend removed from the front door")

// pool keeps the connections to one backend address: idle ones for reuse, and every open
// one so that a drain deadline can close those in use.
type pool struct {
	addr    string
	dialer  net.Dialer
	maxIdle int

	mu     sync.Mutex
	idle   []*upstreamConn // most recently used last
	open   map[*upstreamConn]struct{}
	noKeep bool // draining: close connections when they are returned
	closed bool // drained: close connections as soon as they are dialled
}

func newPool(addr string, cfg Config) *pool {
	return &pool{
		addr:    addr,
		dialer:  net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second},
		maxIdle: cfg.MaxIdlePerPort,
		open:    make(map[*upstreamConn]struct{}),
	}
}

// upstreamConn is one connection from the front door to a backend.
type upstreamConn struct {
	net.Conn
	pool      *pool
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	reused    bool // served a request before

	bodyErr     chan error // result of the request body writer
	bodyPending bool       // a writer runs, or its result was not received
}

// get returns an idle connection that is still open, or nil.
func (p *pool) get() *upstreamConn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()

		if c.usable() {
			c.reused = true
			return c
		}
		c.Close()
	}
}

// dial opens a new connection to the backend.
func (p *pool) dial(ctx context.Context) (*upstreamConn, error) {
	conn, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	c := &upstreamConn{Conn: conn, pool: p, bodyErr: make(chan error, 1)}
	p.mu.Lock()
	closed := p.closed
	if !closed {
		p.open[c] = struct{}{}
	}
	p.mu.Unlock()
	if closed {
		conn.Close()
		return nil, errBackendClosed
	}
	return c, nil
}

// buffers allocates the bufio reader and writer, which raw TCP tunnels do not need.
func (c *upstreamConn) buffers() {
	if c.br == nil {
		c.br = bufio.NewReaderSize(c.Conn, upstreamReadBuffer)
		c.bw = bufio.NewWriterSize(c.Conn, upstreamWriteBuffer)
	}
}

// put returns a connection after a complete exchange, for reuse.
func (p *pool) put(c *upstreamConn) {
	c.idleSince = time.Now()
	p.mu.Lock()
	if p.noKeep || len(p.idle) >= p.maxIdle {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// Close closes the connection and removes it from the pool.
func (c *upstreamConn) Close() error {
	err := c.Conn.Close()
	c.pool.mu.Lock()
	delete(c.pool.open, c)
	c.pool.mu.Unlock()
	return err
}

// usable reports whether an idle connection can be reused: a connection idle for long
// may have been closed by the backend, which a non-blocking peek shows.
func (c *upstreamConn) usable() bool {
	if time.Since(c.idleSince) < checkIdleAfter {
		return true
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	usable := false
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		// EAGAIN means open and silent. A zero read means the backend closed it, and
		// data on an idle connection means the stream is out of sync.
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		usable = errors.Is(rerr, syscall.EAGAIN)
		return true
	})
	return err == nil && usable
}

// stopReuse closes idle connections and makes put close returned ones.
func (p *pool) stopReuse() {
	p.mu.Lock()
	p.noKeep = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// closeAll closes every connection, in use or idle, and every later dial.
func (p *pool) closeAll() {
	p.mu.Lock()
	p.noKeep, p.closed = true, true
	p.idle = nil
	open := make([]*upstreamConn, 0, len(p.open))
	for c := range p.open {
		open = append(open, c)
	}
	p.mu.Unlock()
	for _, c := range open {
		c.Close()
	}
}

// reap closes idle connections last used before cutoff.
func (p *pool) reap(cutoff time.Time) {
	p.mu.Lock()
	var stale []*upstreamConn
	kept := p.idle[:0]
	for _, c := range p.idle {
		if c.idleSince.Before(cutoff) {
			stale = append(stale, c)
		} else {
			kept = append(kept, c)
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	p.mu.Unlock()
	for _, c := range stale {
		c.Close()
	}
}
