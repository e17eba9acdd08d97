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
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
)

// ensureNetworks creates the networks of the selected services that do not
// exist yet. An external network must exist already.
func (r *upRun) ensureNetworks(ctx context.Context) error {
	keys := map[string]bool{}
	for _, svc := range r.services {
		for key := range ServiceNetworks(svc.Service) {
			keys[key] = true
		}
	}
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		if err := r.ensureNetwork(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

func (r *upRun) ensureNetwork(ctx context.Context, key string) error {
	name := NetworkName(r.p, key)
	existing, err := r.o.Engine.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	for _, n := range existing {
		if n.Name == name {
			return nil
		}
	}
	cfg := r.p.Model.Networks[key]
	if cfg.External {
		return fmt.Errorf("network %q (key %q) is declared external but does not exist; create it with docker network create %s",
			name, key, name)
	}
	opts := network.CreateOptions{
		Driver:     cfg.Driver,
		Options:    cfg.DriverOpts,
		Internal:   cfg.Internal,
		Attachable: cfg.Attachable,
		EnableIPv6: cfg.EnableIPv6,
		Labels:     map[string]string{LabelProject: r.p.Name, "io.clusterctl.network": key},
	}
	maps.Copy(opts.Labels, cfg.Labels)
	if cfg.Ipam.Driver != "" || len(cfg.Ipam.Config) > 0 {
		opts.IPAM = &network.IPAM{Driver: cfg.Ipam.Driver}
		for _, pool := range cfg.Ipam.Config {
			opts.IPAM.Config = append(opts.IPAM.Config, network.IPAMConfig{
				Subnet: pool.Subnet, IPRange: pool.IPRange, Gateway: pool.Gateway,
			})
		}
	}
	resp, err := r.o.Engine.NetworkCreate(ctx, name, opts)
	if err != nil {
		return fmt.Errorf("create network %s: %w", name, err)
	}
	r.mu.Lock()
	r.networks = append(r.networks, resp.ID)
	r.mu.Unlock()
	r.o.Report.emit(Event{Kind: EventCreated, Project: r.p.Name, Slot: -1, Message: "network " + name})
	return nil
}

// ensureVolumes creates the named volumes of the selected services that do
// not exist yet. An external volume must exist already.
func (r *upRun) ensureVolumes(ctx context.Context) error {
	for _, svc := range r.services {
		for _, m := range svc.Template.Host.Mounts {
			if m.Type != "volume" || m.Source == "" {
				continue
			}
			if err := r.ensureVolume(ctx, m.Source); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *upRun) ensureVolume(ctx context.Context, name string) error {
	list, err := r.o.Engine.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	for _, v := range list.Volumes {
		if v.Name == name {
			return nil
		}
	}
	var key string
	var cfg = r.p.Model.Volumes[name]
	for k, v := range r.p.Model.Volumes {
		if v.Name == name {
			key, cfg = k, v
		}
	}
	if cfg.External {
		return fmt.Errorf("volume %q is declared external but does not exist; create it with docker volume create %s", name, name)
	}
	labels := map[string]string{LabelProject: r.p.Name, "io.clusterctl.volume": key}
	maps.Copy(labels, cfg.Labels)
	if _, err := r.o.Engine.VolumeCreate(ctx, volume.CreateOptions{
		Name: name, Driver: cfg.Driver, DriverOpts: cfg.DriverOpts, Labels: labels,
	}); err != nil {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	r.mu.Lock()
	r.volumes = append(r.volumes, name)
	r.mu.Unlock()
	r.o.Report.emit(Event{Kind: EventCreated, Project: r.p.Name, Slot: -1, Message: "volume " + name})
	return nil
}

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
		for _, c := range observed {
			if c.Service != svc.Name || c.Role != RoleInstance || c.State != "running" {
				continue
			}
			if c.Slot >= svc.Count {
				// A slot beyond the count leaves the rotation with the push
				// below, which returns once its requests in flight drained.
				r.o.Report.emit(Event{Kind: EventDraining, Project: r.p.Name, Service: svc.Name, Slot: c.Slot, Container: c.Name})
				continue
			}
			b, state, err := r.o.readyBackend(ctx, c)
			if err != nil {
				return err
			}
			switch state {
			case StateReady:
				rot.add(b)
			case StateStarting:
				r.pending = append(r.pending, pendingInstance{svc, created{ID: c.ID, Name: c.Name, Slot: c.Slot, WaitTimeout: r.opts.WaitTimeout}})
			}
		}
		// A new front door starts empty, so the first sync always pushes,
		// and it pushes now, before anything else waits, so that a front
		// door created by this run serves the instances that stay. Such a
		// front door is no longer this run's to remove on failure.
		rot.version++
		if len(rot.backends) > 0 {
			if err := rot.sync(ctx); err != nil {
				return err
			}
			r.untrack(door.ID)
		}
	}
	return nil
}

// pendingInstance is a running instance that was not ready yet when the
// run began, as one left by an interrupted run.
type pendingInstance struct {
	svc  *service
	inst created
}

// waitPending waits until the pending instances are ready and puts them
// into rotation; an instance is never served before it is ready.
func (r *upRun) waitPending(ctx context.Context) error {
	errs := make([]error, len(r.pending))
	var wg sync.WaitGroup
	for i, p := range r.pending {
		wg.Go(func() {
			if errs[i] = r.o.waitReady(ctx, r.p, p.svc.Service, p.inst); errs[i] == nil {
				errs[i] = r.addToRotation(ctx, p.svc, p.inst)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// readyBackend returns the rotation entry of an instance and its ps state.
func (o *Orchestrator) readyBackend(ctx context.Context, c ObservedContainer) (Backend, string, error) {
	b, info, err := o.inspectBackend(ctx, c.ID, c.Slot)
	if err != nil {
		return Backend{}, "", err
	}
	return b, instanceState(info), nil
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
				errs[i] = r.o.removeContainer(ctx, step.ID)
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
	r.mu.Lock()
	containers := slices.Clone(r.containers)
	networks, volumes := slices.Clone(r.networks), slices.Clone(r.volumes)
	retired := slices.Clone(r.retired)
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
			if err := r.o.Engine.ContainerRemove(ctx, id, removeForce); err != nil && !errdefs.IsNotFound(err) {
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
		"removed %d containers, %d networks and %d volumes that this run created", len(containers), len(networks), len(volumes))})
	return errors.Join(errs...)
}

// describeChange returns which settings of a service differ between its
// running instances and the file.
func (o *Orchestrator) describeChange(ctx context.Context, tmpl *Template, change Change) string {
	slots := slices.Sorted(maps.Keys(change.Containers))
	info, err := o.Engine.ContainerInspect(ctx, change.Containers[slots[0]])
	if err != nil {
		return fmt.Sprintf("instances %v change to revision %s", slots, change.Revision)
	}
	diff := DiffSpecs(info.Config.Labels[LabelSpec], tmpl.Spec())
	return fmt.Sprintf("instances %v change from revision %s to %s: %s",
		slots, info.Config.Labels[LabelRevision], change.Revision, strings.Join(diff, "; "))
}
