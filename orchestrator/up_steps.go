package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"golang.org/x/sync/errgroup"

	"github.com/clusterctl/clusterctl/compose"
)

// loadRotations builds the rotation of every front door from the running
// instances that stay, so that pushes after this run's changes keep them.
func (r *upRun) loadRotations(ctx context.Context, observed []ObservedContainer) error {
	current, err := r.o.observe(ctx, r.p.Name)
	if err != nil {
		return err
	}
	for _, door := range current {
		svc, ok := r.services[door.Service]
		if door.Role != RoleFrontDoor || !ok || svc.FrontDoor == nil || door.Revision != svc.FrontDoor.Revision {
			continue
		}
		rot := newRotation(r.o, door.ID, svc.DrainTimeout)
		r.doors[svc.Name] = rot
		var running []ObservedContainer
		for _, c := range observed {
			if c.Service != svc.Name || c.Role != RoleInstance || c.State != "running" {
				continue
			}
			if c.Slot >= svc.Count {
				// A slot beyond the count leaves the rotation with the first
				// push, which removeInstances waits for before it stops the
				// instance, and which returns once its requests drained.
				r.o.Report.emit(Event{Kind: EventDraining, Project: r.p.Name, Service: svc.Name, Slot: c.Slot, Container: c.Name})
				continue
			}
			running = append(running, c)
		}
		backends := make([]Backend, len(running))
		states := make([]string, len(running))
		infos := make([]container.InspectResponse, len(running))
		inspections, inspectCtx := errgroup.WithContext(ctx)
		for i, c := range running {
			inspections.Go(func() error {
				var err error
				backends[i], states[i], infos[i], err = r.o.readyBackend(inspectCtx, c)
				return err
			})
		}
		if err := inspections.Wait(); err != nil {
			return err
		}
		unprobed(states, infos, svc.Service, sync.OnceValue(func() map[string]bool {
			members, _ := r.o.frontDoorMembers(ctx, door.ID)
			return members
		}))
		for i, c := range running {
			switch states[i] {
			case StateReady:
				rot.add(backends[i])
			case StateStarting, StateUnhealthy:
				r.pending = append(r.pending, pendingInstance{svc, created{ID: c.ID, Name: c.Name, Slot: c.Slot,
					WaitTimeout: r.opts.WaitTimeout, Restarts: infos[i].RestartCount}})
			}
		}
		// The first sync always pushes, because a front door that this run
		// created starts empty, and one that restarted lost its rotation.
		// It pushes now, before anything else waits, so that the front door
		// serves the instances that stay. A front door created by this run
		// is no longer this run's to remove on failure once it serves.
		rot.version++
		if len(rot.backends) == 0 {
			continue
		}
		if r.tracked(door.ID) {
			if err := rot.sync(ctx); err != nil {
				return err
			}
			r.untrack(door.ID)
			continue
		}
		// A front door that existed before holds its rotation already in
		// all but rare cases, so its push overlaps the run's first steps.
		// A later sync waits for it, and pushes again if it failed.
		r.background.Go(func() {
			if err := rot.sync(ctx); err != nil && ctx.Err() == nil {
				r.o.logger().Warn("push front door rotation", "container", door.Name, "err", err)
			}
		})
	}
	return nil
}

// loadPending adds to the run's pending instances the instances of the
// file's revision that are not ready yet, in services without a front
// door: starting, unhealthy, or waiting for the engine to restart them.
// Up --detach leaves such instances, and the run waits for them as for its
// own, so that up returns once every instance is ready or fails.
// loadRotations does the same for services behind a front door. An
// instance of another revision is left to the rollout that replaces it,
// because waiting for it could block a fix.
func (r *upRun) loadPending(ctx context.Context, observed []ObservedContainer) error {
	var candidates []ObservedContainer
	for _, c := range observed {
		svc, ok := r.services[c.Service]
		if !ok || svc.FrontDoor != nil || svc.OneShot || !r.waitsForReady(svc) || c.Role != RoleInstance ||
			(c.State != container.StateRunning && c.State != container.StateRestarting) ||
			c.Slot >= svc.Count || c.Revision != svc.Template.Revision {
			continue
		}
		candidates = append(candidates, c)
	}
	infos := make([]container.InspectResponse, len(candidates))
	inspections, inspectCtx := errgroup.WithContext(ctx)
	for i, c := range candidates {
		inspections.Go(func() error {
			info, err := r.o.Engine.ContainerInspect(inspectCtx, c.ID)
			if err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("inspect %s: %w", c.Name, err)
			}
			infos[i] = info
			return nil
		})
	}
	if err := inspections.Wait(); err != nil {
		return err
	}
	for i, c := range candidates {
		info := infos[i]
		if info.ContainerJSONBase == nil || info.State == nil || (!info.State.Running && !info.State.Restarting) {
			continue
		}
		if state := instanceState(info); state != StateStarting && state != StateUnhealthy {
			continue
		}
		r.pending = append(r.pending, pendingInstance{r.services[c.Service], created{ID: c.ID, Name: c.Name, Slot: c.Slot,
			WaitTimeout: r.opts.WaitTimeout, Restarts: info.RestartCount}})
	}
	return nil
}

// unprobed sets to starting the state of each ready instance whose gate is
// the ready probe and that the front door does not serve. Only the command
// that ran a probe has its result, and the front door's rotation records
// it. So an instance outside the rotation, such as one that an interrupted
// run left, is probed again before it serves. An empty or unreadable
// rotation has every such instance probed again. members returns the
// rotation, and is called only when some instance needs it.
func unprobed(states []string, infos []container.InspectResponse, svc *compose.Service,
	members func() map[string]bool) {
	for i, info := range infos {
		if states[i] != StateReady || info.Config == nil ||
			readinessGate(svc, info.Config.Healthcheck, 0).kind != "probe" {
			continue
		}
		if !members()[info.ID] {
			states[i] = StateStarting
		}
	}
}

// tracked reports whether this run created the container.
func (r *upRun) tracked(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.containers, id)
}

// pendingInstance is a running instance that was not ready yet when the
// run began, as one left by an interrupted run.
type pendingInstance struct {
	svc  *service
	inst created
}

// waitPending waits until the pending instances of service, or of every
// service when service is empty, are ready and puts them into rotation. An
// instance is never served before it is ready.
func (r *upRun) waitPending(ctx context.Context, service string) error {
	errs := make([]error, len(r.pending))
	var wg sync.WaitGroup
	for i, p := range r.pending {
		if service != "" && p.svc.Name != service {
			continue
		}
		wg.Go(func() {
			if errs[i] = r.o.waitReady(ctx, r.p, p.svc.Service, p.inst); errs[i] == nil {
				errs[i] = r.addToRotation(ctx, p.svc, p.inst)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// readyBackend inspects a listed instance and returns its rotation entry,
// its ps state and the inspection. An instance that stopped, or was
// removed, since the caller listed it has no entry and an empty state,
// because a command killed while it stopped an old instance leaves the
// engine stopping it.
func (o *Orchestrator) readyBackend(ctx context.Context, c ObservedContainer) (Backend, string, container.InspectResponse, error) {
	info, err := o.Engine.ContainerInspect(ctx, c.ID)
	if errdefs.IsNotFound(err) {
		return Backend{}, "", info, nil
	}
	if err != nil {
		return Backend{}, "", info, fmt.Errorf("inspect %s: %w", c.Name, err)
	}
	if info.State == nil || !info.State.Running {
		return Backend{}, "", info, nil
	}
	b, err := backendFrom(info, c.Slot)
	if err != nil {
		return Backend{}, "", info, err
	}
	return b, instanceState(info), info, nil
}

func (r *upRun) addToRotation(ctx context.Context, svc *service, inst created) error {
	rot, ok := r.doors[svc.Name]
	if !ok {
		return nil
	}
	b, err := r.o.backendOf(ctx, inst.ID, inst.Slot)
	if err != nil {
		return err
	}
	rot.add(b)
	return rot.sync(ctx)
}

// removeInstances takes the instances out of their front doors' rotation,
// waits for their requests in flight to drain, then stops and removes them.
// The order matters: an instance that stopped while still in rotation would
// fail the requests sent to it.
func (r *upRun) removeInstances(ctx context.Context, steps []Step) error {
	if len(steps) == 0 {
		return nil
	}
	for _, step := range steps {
		if rot, ok := r.doors[step.Service]; ok && rot.remove(step.ID) {
			r.o.Report.emit(Event{Kind: EventDraining, Project: r.p.Name, Service: step.Service, Slot: step.Slot, Container: step.Container})
		}
	}
	if err := r.syncAll(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(steps))
	for i, step := range steps {
		wg.Go(func() {
			errs[i] = r.o.stopInstance(ctx, r.p.Name, step.Service, step.Slot, step.ID, step.Container)
			if errs[i] == nil {
				// A slot removed for good takes its anonymous volumes along,
				// as a replaced instance does.
				errs[i] = r.o.removeContainerVolumes(ctx, step.ID, true)
			}
			if errs[i] == nil {
				r.o.Report.emit(Event{Kind: EventRemoved, Project: r.p.Name, Service: step.Service, Slot: step.Slot, Container: step.Container})
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return r.syncAll(ctx)
}

func (r *upRun) syncAll(ctx context.Context) error {
	for _, rot := range r.doors {
		if err := rot.sync(ctx); err != nil {
			return err
		}
	}
	return nil
}

// removeFrontDoor stops and removes a front door.
func (o *Orchestrator) removeFrontDoor(ctx context.Context, project string, step Step) error {
	o.Report.emit(Event{Kind: EventStopping, Project: project, Service: step.Service, Slot: -1, Container: step.Container, Message: step.Reason})
	if err := o.removeContainer(ctx, step.ID); err != nil {
		return err
	}
	o.Report.emit(Event{Kind: EventRemoved, Project: project, Service: step.Service, Slot: -1, Container: step.Container})
	return nil
}

// cleanup removes what this run created, newest first, after taking its
// instances out of rotation. It runs without the caller's cancellation,
// because it is what an interrupted run does last.
func (r *upRun) cleanup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	r.background.Wait()
	r.mu.Lock()
	containers := slices.Clone(r.containers)
	networks, volumes := slices.Clone(r.networks), slices.Clone(r.volumes)
	retired := slices.Clone(r.retired)
	var restored []leavingBackend
	for id, left := range r.leaving {
		if !slices.Contains(retired, id) {
			restored = append(restored, left)
		}
	}
	r.mu.Unlock()
	for _, id := range retired {
		if err := r.o.Engine.ContainerRemove(ctx, id, removeForce); err != nil && !errdefs.IsNotFound(err) {
			r.o.logger().Warn("remove replaced instance during cleanup", "container", shortID(id), "err", err)
		}
	}
	if len(containers)+len(networks)+len(volumes) == 0 {
		return nil
	}
	var errs []error
	for _, left := range restored {
		if rot, ok := r.doors[left.service]; ok {
			rot.add(left.backend)
			r.o.Report.emit(Event{Kind: EventInfo, Project: r.p.Name, Service: left.service, Slot: left.backend.Slot,
				Container: left.backend.Name, Message: "back in rotation, because its replacement is removed"})
		}
	}
	for _, rot := range r.doors {
		for _, id := range containers {
			rot.remove(id)
		}
		if err := rot.sync(ctx); err != nil && !errdefs.IsNotFound(err) {
			r.o.logger().Warn("rotation during cleanup", "err", err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, id := range containers {
		wg.Go(func() {
			if err := r.o.Engine.ContainerRemove(ctx, id, discardForce); err != nil && !errdefs.IsNotFound(err) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("cleanup: remove container %s: %w", shortID(id), err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, id := range networks {
		if err := r.o.removeNetwork(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("cleanup: remove network %s: %w", shortID(id), err))
		}
	}
	for _, name := range volumes {
		if err := r.o.Engine.VolumeRemove(ctx, name, true); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("cleanup: remove volume %s: %w", name, err))
		}
	}
	r.o.Report.emit(Event{Kind: EventCleanedUp, Project: r.p.Name, Slot: -1, Message: fmt.Sprintf(
		"removed %s, %s and %s that this run created",
		count(len(containers), "container"), count(len(networks), "network"), count(len(volumes), "volume"))})
	return errors.Join(errs...)
}

// describeChange returns which settings of a service differ between its
// running instances and the file. Instances of several revisions, as an
// interrupted rollout leaves, are named with their revision each, and the
// settings are those of the lowest slot. The revisions come from observed,
// so only that slot's container is inspected.
func (o *Orchestrator) describeChange(ctx context.Context, tmpl *Template, change Change, observed []ObservedContainer) string {
	slots := slices.Sorted(maps.Keys(change.Containers))
	revisions := map[string]string{}
	for _, c := range observed {
		revisions[c.ID] = c.Revision
	}
	var from []string
	bySlot := map[string][]int{}
	for _, slot := range slots {
		rev := revisions[change.Containers[slot]]
		if _, seen := bySlot[rev]; !seen {
			from = append(from, rev)
		}
		bySlot[rev] = append(bySlot[rev], slot)
	}
	if len(from) == 1 && from[0] == change.Revision {
		// rollout restart, or a dependency with restart: true.
		return fmt.Sprintf("instances %v are replaced by new containers of the same revision %s",
			slots, change.Revision)
	}
	info, err := o.Engine.ContainerInspect(ctx, change.Containers[slots[0]])
	if err != nil {
		return fmt.Sprintf("instances %v change to revision %s", slots, change.Revision)
	}
	diff := strings.Join(DiffSpecs(info.Config.Labels[LabelSpec], tmpl.Spec()), "; ")
	if len(from) == 1 {
		return fmt.Sprintf("instances %v change from revision %s to %s: %s", slots, from[0], change.Revision, diff)
	}
	parts := make([]string, len(from))
	for i, rev := range from {
		parts[i] = fmt.Sprintf("%s (slots %v)", rev, bySlot[rev])
	}
	return fmt.Sprintf("instances %v change from revisions %s to %s; slot %d: %s",
		slots, strings.Join(parts, ", "), change.Revision, slots[0], diff)
}
