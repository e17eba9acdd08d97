package frontdoor

import (
	"cmp"
	"context"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// backend is the runtime state of one member. Its Backend value never changes: a member
// whose fields change is replaced by a new backend.
type backend struct {
	spec  Backend
	pools []*pool // one per Config.Ports entry, in the same order

	inFlight atomic.Int64
	requests atomic.Uint64
	failures atomic.Uint64
	removed  atomic.Bool

	drained   chan struct{} // closed once removed and nothing is in flight
	drainOnce sync.Once
	errLog    logLimiter
}

func newBackend(spec Backend, cfg Config) *backend {
	b := &backend{spec: spec, drained: make(chan struct{})}
	b.pools = make([]*pool, len(cfg.Ports))
	for i, port := range cfg.Ports {
		b.pools[i] = newPool(net.JoinHostPort(spec.Addr, strconv.Itoa(port)), cfg)
	}
	return b
}

// acquire counts one more request in flight unless b was removed. The check after the
// increment pairs with drain, which sets removed before it reads inFlight, so either
// acquire reads removed as set or drain counts the request.
func (b *backend) acquire() bool {
	b.inFlight.Add(1)
	if b.removed.Load() {
		b.release()
		return false
	}
	b.requests.Add(1)
	return true
}

// release ends one request or connection in flight.
func (b *backend) release() {
	if b.inFlight.Add(-1) == 0 && b.removed.Load() {
		b.drainOnce.Do(func() { close(b.drained) })
	}
}

// drain stops reuse of b's connections, waits until nothing is in flight or timeout
// passed, then closes every connection left. It returns the count still in flight at the
// deadline.
func (b *backend) drain(timeout time.Duration) BackendDrain {
	start := time.Now()
	b.removed.Store(true)
	for _, p := range b.pools {
		p.stopReuse()
	}
	if b.inFlight.Load() == 0 {
		b.drainOnce.Do(func() { close(b.drained) })
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	left := 0
	select {
	case <-b.drained:
	case <-timer.C:
		left = int(b.inFlight.Load())
	}
	b.closeAll()
	return BackendDrain{Backend: b.spec, InFlight: left, Elapsed: time.Since(start)}
}

// closeAll closes every connection to b, idle or in use.
func (b *backend) closeAll() {
	for _, p := range b.pools {
		p.closeAll()
	}
}

func (b *backend) status(draining bool) BackendStatus {
	return BackendStatus{
		Backend:  b.spec,
		Draining: draining,
		InFlight: int(b.inFlight.Load()),
		Requests: b.requests.Load(),
		Failures: b.failures.Load(),
	}
}

// table is an immutable list of members.
type table struct {
	backends []*backend
}

// members is the current membership plus the backends still draining.
type members struct {
	cfg     Config
	current atomic.Pointer[table]
	next    atomic.Uint64 // round-robin start for ties

	mu       sync.Mutex // serializes updates and guards draining
	draining map[*backend]bool
}

func newMembers(cfg Config) *members {
	m := &members{cfg: cfg, draining: make(map[*backend]bool)}
	m.current.Store(&table{})
	return m
}

// pick returns a backend with the fewest in flight, skipping skip, with one request
// already counted in flight on it. It returns nil when no other backend is a member.
func (m *members) pick(skip *backend) *backend {
	for {
		b := m.current.Load().leastLoaded(m.next.Add(1), skip)
		if b == nil || b.acquire() {
			return b
		}
		// b was removed between loading the table and acquire: the next load returns the
		// table without it.
	}
}

// leastLoaded scans from start, so ties go round-robin.
func (t *table) leastLoaded(start uint64, skip *backend) *backend {
	n := len(t.backends)
	if n == 0 {
		return nil
	}
	var best *backend
	var bestLoad int64
	first := int(start % uint64(n))
	for i := range n {
		b := t.backends[(first+i)%n]
		if b == skip {
			continue
		}
		load := b.inFlight.Load()
		if best == nil || load < bestLoad {
			best, bestLoad = b, load
		}
	}
	return best
}

// update swaps in the backends of spec. Members whose Backend value is unchanged are kept
// with their connections. It returns the backends that are new and those removed; the
// caller drains the removed ones.
func (m *members) update(specs []Backend) (added, removed []*backend) {
	m.mu.Lock()
	defer m.mu.Unlock()

	old := m.current.Load().backends
	kept := make(map[Backend]*backend, len(old))
	for _, b := range old {
		kept[b.spec] = b
	}
	next := make([]*backend, 0, len(specs))
	for _, spec := range specs {
		b, ok := kept[spec]
		if !ok {
			b = newBackend(spec, m.cfg)
			added = append(added, b)
		}
		delete(kept, spec)
		next = append(next, b)
	}
	m.current.Store(&table{backends: next})

	for _, b := range old {
		if kept[b.spec] == b {
			removed = append(removed, b)
			m.draining[b] = true
		}
	}
	return added, removed
}

// drained removes a backend whose drain finished from the draining set.
func (m *members) drained(b *backend) {
	m.mu.Lock()
	delete(m.draining, b)
	m.mu.Unlock()
}

// all returns the members, then the draining backends.
func (m *members) all() (current, draining []*backend) {
	m.mu.Lock()
	defer m.mu.Unlock()
	current = m.current.Load().backends
	for b := range m.draining {
		draining = append(draining, b)
	}
	slices.SortFunc(draining, func(a, b *backend) int {
		return cmp.Or(cmp.Compare(a.spec.Slot, b.spec.Slot), cmp.Compare(a.spec.ID, b.spec.ID))
	})
	return current, draining
}

func (m *members) inFlight() int {
	current, draining := m.all()
	n := 0
	for _, b := range slices.Concat(current, draining) {
		n += int(b.inFlight.Load())
	}
	return n
}

// closeAll closes every upstream connection of members and draining backends.
func (m *members) closeAll() {
	current, draining := m.all()
	for _, b := range slices.Concat(current, draining) {
		b.closeAll()
	}
}

// reapIdle closes upstream connections idle for longer than timeout, until ctx is done.
func (m *members) reapIdle(ctx context.Context, timeout time.Duration) {
	ticker := time.NewTicker(timeout / 2)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			current, _ := m.all()
			for _, b := range current {
				for _, p := range b.pools {
					p.reap(now.Add(-timeout))
				}
			}
		}
	}
}
