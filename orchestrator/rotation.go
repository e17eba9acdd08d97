package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/clusterctl/clusterctl/compose"
	"github.com/clusterctl/clusterctl/internal/frontdoor"
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

	// pushMu serializes pushes. It guards stream and streamFailed.
	pushMu       sync.Mutex
	stream       *memberStream
	streamFailed bool
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
	_, ok := r.take(id)
	return ok
}

// take removes an instance from the rotation and returns its entry.
func (r *rotation) take(id string) (Backend, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.backends[id]
	if !ok {
		return Backend{}, false
	}
	delete(r.backends, id)
	r.version++
	return b, true
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
	if err := r.push(ctx, backends); err != nil {
		return err
	}
	r.mu.Lock()
	r.pushed = max(r.pushed, version)
	r.mu.Unlock()
	return nil
}

// push sends a rotation over the front door's member stream, which it
// opens on first use. When the stream cannot be opened or breaks, as with
// a front door whose binary has no --stream, it falls back to one exec per
// push for the rest of the command. A full rotation is idempotent, so
// sending it again after a broken stream is safe. The caller holds pushMu.
func (r *rotation) push(ctx context.Context, backends []Backend) error {
	if r.stream == nil && !r.streamFailed {
		stream, err := r.o.openMemberStream(ctx, r.frontDoorID)
		if err != nil {
			r.o.logger().Debug("open member stream", "frontdoor", shortID(r.frontDoorID), "err", err)
			r.streamFailed = true
		}
		r.stream = stream
	}
	if r.stream != nil {
		data, err := membershipJSON(backends, r.drainTimeout)
		if err != nil {
			return err
		}
		err = r.stream.push(ctx, data)
		if err == nil || errors.Is(err, errMembershipRejected) {
			return err
		}
		// A cancelled ctx closed the stream too, so a later push, as in the
		// cleanup after an interrupt, goes through exec either way.
		r.closeStream()
		r.streamFailed = true
		if ctx.Err() != nil {
			return err
		}
		r.o.logger().Debug("member stream broke; pushing with one exec per change", "frontdoor", shortID(r.frontDoorID), "err", err)
	}
	return r.o.pushMembership(ctx, r.frontDoorID, backends, r.drainTimeout)
}

// closeStream ends the member stream, if one is open. The caller holds
// pushMu, or no push runs any more.
func (r *rotation) closeStream() {
	if r.stream != nil {
		r.stream.close()
		r.stream = nil
	}
}

// close ends the rotation's member stream at the end of a command.
func (r *rotation) close() {
	r.pushMu.Lock()
	defer r.pushMu.Unlock()
	r.closeStream()
}

// repairRotations checks every front door's members against the ready
// instances, as after a restart of the front door container, which keeps
// its rotation only in memory, or after an interrupted run that left an
// instance starting. waitTimeout, when set, bounds the wait for instances
// that are not ready. It returns true when it had to converge anything.
func (o *Orchestrator) repairRotations(ctx context.Context, p *compose.Project, services []*service,
	observed []ObservedContainer, waitTimeout time.Duration) (bool, error) {
	for _, svc := range services {
		if svc.FrontDoor == nil {
			continue
		}
		door := slices.IndexFunc(observed, func(c ObservedContainer) bool {
			return c.Service == svc.Name && c.Role == RoleFrontDoor && c.State == "running"
		})
		if door < 0 {
			continue
		}
		members, ok := o.frontDoorMembers(ctx, observed[door].ID)
		if !ok {
			continue
		}
		var states []string
		var infos []container.InspectResponse
		for _, c := range observed {
			if c.Service != svc.Name || c.Role != RoleInstance || c.State != "running" || c.Slot >= svc.Count {
				continue
			}
			_, state, info, err := o.readyBackend(ctx, c)
			if err != nil {
				return false, err
			}
			states, infos = append(states, state), append(infos, info)
		}
		unprobed(states, infos, svc.Service, func() map[string]bool { return members })
		want := map[string]bool{}
		starting := slices.Contains(states, StateStarting) || slices.Contains(states, StateUnhealthy)
		for i, state := range states {
			if state == StateReady {
				want[infos[i].ID] = true
			}
		}
		if starting || !maps.Equal(members, want) {
			o.Report.emit(Event{Kind: EventInfo, Project: p.Name, Service: svc.Name, Slot: -1,
				Message: fmt.Sprintf("front door lists %s, %d are ready; converging", count(len(members), "instance"), len(want))})
			run := newUpRun(o, p, services, UpOptions{WaitTimeout: waitTimeout})
			defer run.close()
			if err := run.loadRotations(ctx, observed); err != nil {
				return true, err
			}
			if err := run.waitPending(ctx, ""); err != nil {
				return true, err
			}
			return true, run.syncAll(ctx)
		}
	}
	return false, nil
}

// frontDoorMembers returns the IDs in a front door's rotation.
func (o *Orchestrator) frontDoorMembers(ctx context.Context, id string) (map[string]bool, bool) {
	members, _, ok := o.frontDoorRotation(ctx, id)
	return members, ok
}

// frontDoorRotation returns the IDs of the backends in a front door's
// rotation and of those that it drains. It returns false when the front
// door's status cannot be read.
func (o *Orchestrator) frontDoorRotation(ctx context.Context, id string) (members, draining map[string]bool, ok bool) {
	res, err := o.exec(ctx, id, frontDoorStatusCommand)
	if err != nil || res.ExitCode != 0 {
		return nil, nil, false
	}
	var status frontdoor.StatusReport
	if json.Unmarshal([]byte(res.Stdout), &status) != nil {
		return nil, nil, false
	}
	members, draining = map[string]bool{}, map[string]bool{}
	for _, b := range status.Backends {
		if b.Draining {
			draining[b.ID] = true
		} else {
			members[b.ID] = true
		}
	}
	return members, draining, true
}

// backendOf returns the rotation entry of a running instance.
func (o *Orchestrator) backendOf(ctx context.Context, id string, slot int) (Backend, error) {
	info, err := o.Engine.ContainerInspect(ctx, id)
	if err != nil {
		return Backend{}, fmt.Errorf("inspect %s: %w", shortID(id), err)
	}
	return backendFrom(info, slot)
}

// backendFrom returns the rotation entry of an inspected instance.
func backendFrom(info container.InspectResponse, slot int) (Backend, error) {
	name := strings.TrimPrefix(info.Name, "/")
	_, addr := instanceAddress(info)
	if addr == "" {
		return Backend{}, fmt.Errorf("instance %s has no network address for its front door", name)
	}
	return Backend{ID: info.ID, Name: name, Slot: slot, Addr: addr}, nil
}
