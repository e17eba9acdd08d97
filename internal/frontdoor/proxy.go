package frontdoor

import (
	"context"
	"sync/atomic"
	"time"
)

// logEvery is the minimum time between two log records of one repeated error.
const logEvery = time.Second

// connect picks a backend and gets a connection to it on the port with index port: an
// idle one from the pool, or a new one when fresh is set or none is idle. When dialling
// fails nothing was sent, so it tries once more on another backend. It returns a nil
// backend when there is none, and otherwise a backend with one request counted in flight
// that the caller releases, also when err is not nil.
func (fd *frontDoor) connect(ctx context.Context, port int, fresh bool) (*backend, *upstreamConn, error) {
	b := fd.members.pick(nil)
	if b == nil {
		return nil, nil, nil
	}
	c, err := b.conn(ctx, port, fresh)
	if err == nil || ctx.Err() != nil {
		return b, c, err
	}

	other := fd.members.pick(b)
	if other == nil {
		return b, nil, err
	}
	fd.backendFailed(b, "dial", err)
	b.release()
	c, err = other.conn(ctx, port, fresh)
	return other, c, err
}

// conn returns an idle connection, unless fresh is set, or dials a new one.
func (b *backend) conn(ctx context.Context, port int, fresh bool) (*upstreamConn, error) {
	p := b.pools[port]
	if !fresh {
		if c := p.get(); c != nil {
			return c, nil
		}
	}
	return p.dial(ctx)
}

// backendFailed counts and logs, rate-limited, an error of b.
func (fd *frontDoor) backendFailed(b *backend, op string, err error) {
	b.failures.Add(1)
	fd.failures.Add(1)
	if dropped, ok := b.errLog.allow(time.Now()); ok {
		fd.log.Warn("backend failed", "service", fd.cfg.Service, "op", op, "id", b.spec.ID,
			"name", b.spec.Name, "addr", b.spec.Addr, "error", err, "dropped_since_last", dropped)
	}
}

// noBackendFailed counts and logs, rate-limited, a request or connection turned away.
func (fd *frontDoor) noBackendFailed() {
	fd.noBackend.Add(1)
	if dropped, ok := fd.noBackendLog.allow(time.Now()); ok {
		fd.log.Warn("no ready instance, request turned away", "service", fd.cfg.Service,
			"dropped_since_last", dropped)
	}
}

// logLimiter lets one log record through per logEvery and counts the rest.
type logLimiter struct {
	next    atomic.Int64 // Unix nanoseconds before which records are dropped
	dropped atomic.Int64
}

// allow reports whether a record may be logged now, with the count dropped since the last.
func (l *logLimiter) allow(now time.Time) (dropped int64, ok bool) {
	next := l.next.Load()
	if now.UnixNano() < next || !l.next.CompareAndSwap(next, now.Add(logEvery).UnixNano()) {
		l.dropped.Add(1)
		return 0, false
	}
	return l.dropped.Swap(0), true
}
