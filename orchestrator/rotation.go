package orchestrator

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// rotation is the set of instances a front door sends traffic to. Changes
// are pushed to the front door coalesced: concurrent callers of sync wait
// for one push that includes all their changes.
type rotation struct {
	o            *Orchestrator
	frontDoorID  string
	drainTimeout time.Duration

	mu       sync.Mutex
	backends map[string]Backend
	version  int
	pushed   int

	pushMu sync.Mutex
}

func newRotation(o *Orchestrator, frontDoorID string, drainTimeout time.Duration) *rotation {
	return &rotation{o: o, frontDoorID: frontDoorID, drainTimeout: drainTimeout, backends: map[string]Backend{}}
}

func (r *rotation) add(b Backend) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.backends[b.ID] = b
	r.version++
}

func (r *rotation) remove(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.backends[id]; !ok {
		return false
	}
	delete(r.backends, id)
	r.version++
	return true
}

// sync pushes the current rotation unless a push already carried it. It
// returns once requests in flight on removed instances drained.
func (r *rotation) sync(ctx context.Context) error {
	r.pushMu.Lock()
	defer r.pushMu.Unlock()
	r.mu.Lock()
	if r.pushed == r.version {
		r.mu.Unlock()
		return nil
	}
	version := r.version
	backends := slices.Collect(maps.Values(r.backends))
	r.mu.Unlock()
	if err := r.o.pushMembership(ctx, r.frontDoorID, backends, r.drainTimeout); err != nil {
		return err
	}
	r.mu.Lock()
	r.pushed = max(r.pushed, version)
	r.mu.Unlock()
	return nil
}

// backendOf returns the rotation entry of a running instance.
func (o *Orchestrator) backendOf(ctx context.Context, id string, slot int) (Backend, error) {
	info, err := o.Engine.ContainerInspect(ctx, id)
	if err != nil {
		return Backend{}, fmt.Errorf("inspect %s: %w", shortID(id), err)
	}
	_, addr := instanceAddress(info)
	if addr == "" {
		return Backend{}, fmt.Errorf("instance %s has no network address for its front door", info.Name)
	}
	return Backend{ID: id, Name: info.Name[1:], Slot: slot, Addr: addr}, nil
}
