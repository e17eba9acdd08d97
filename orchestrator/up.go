package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/google/uuid"

	"github.com/clusterctl/clusterctl/compose"
)

// UpOptions adjust Up.
type UpOptions struct {
	// Services limits Up to these services; empty means all.
	Services []string
	// Build rebuilds images of services with a build section even when they
	// exist.
	Build bool
	// RemoveOrphans removes containers of services no longer in the file.
	RemoveOrphans bool
	// WaitTimeout, when set, replaces every instance's readiness deadline.
	WaitTimeout time.Duration
	// Parallelism bounds concurrent instance creation; 0 means
	// DefaultParallelism.
	Parallelism int
}

// service is a selected service with everything Up needs to create its
// containers.
type service struct {
	*compose.Service
	Count     int
	Template  *Template
	FrontDoor *frontDoorSpec
}

// Up converges the project on the engine to the file. It builds missing
// images, creates networks and volumes, and starts front doors. It creates
// or removes instances to reach each service's count and rolls changed
// services out. Each new instance joins its front door's rotation only
// once it is ready.
//
// Up returns an error wrapping ErrChanged, and changes nothing, when
// instances run another revision than the file describes. When a step
// fails or ctx is cancelled, Up removes what this call created before it
// returns; instances that existed before are left as they were.
func (o *Orchestrator) Up(ctx context.Context, p *compose.Project, opts UpOptions) error {
	selected, err := p.Select(opts.Services)
	if err != nil {
		return err
	}
	services, err := o.prepare(ctx, p, selected, opts)
	if err != nil {
		return err
	}
	observed, err := o.observe(ctx, p.Name)
	if err != nil {
		return err
	}
	var known []string
	for _, svc := range p.Services {
		known = append(known, svc.Name)
	}
	plan := PlanUp(desiredState(services), observed, PlanOptions{Known: known, RemoveOrphans: opts.RemoveOrphans})
	o.logger().Debug("plan", "project", p.Name, "steps", plan.String())
	for _, orphan := range plan.Orphans {
		o.Report.emit(Event{Kind: EventWarning, Project: p.Name, Service: orphan, Slot: -1,
			Message: "service is no longer in the file; run up --remove-orphans to remove its containers"})
	}
	if plan.Empty() {
		repaired, err := o.repairRotations(ctx, p, services, observed)
		if err != nil || repaired {
			return err
		}
		for _, svc := range services {
			o.Report.emit(Event{Kind: EventUpToDate, Project: p.Name, Service: svc.Name, Slot: -1,
				Message: fmt.Sprintf("%d instances up to date, nothing to do", svc.Count)})
		}
		return nil
	}
	run := newUpRun(o, p, services, opts)
	if err := run.execute(ctx, plan, observed); err != nil {
		return errors.Join(err, run.cleanup(ctx))
	}
	return nil
}

// prepare resolves images, instance counts, templates and front door specs.
func (o *Orchestrator) prepare(ctx context.Context, p *compose.Project, selected []compose.Service, opts UpOptions) ([]*service, error) {
	cpus, err := o.cpus(ctx, selected)
	if err != nil {
		return nil, err
	}
	var services []*service
	for i := range selected {
		svc := &selected[i]
		img, err := o.ensureImage(ctx, p, svc, opts.Build)
		if err != nil {
			return nil, err
		}
		tmpl, warnings, err := NewTemplate(p, svc, img.ID, img.Version)
		if err != nil {
			return nil, err
		}
		for _, w := range warnings {
			o.Report.emit(Event{Kind: EventWarning, Project: p.Name, Service: svc.Name, Slot: -1, Message: w})
		}
		prepared := &service{Service: svc, Count: svc.Instances.Resolve(cpus), Template: tmpl}
		if err := compose.CheckInstanceCount(*svc, prepared.Count); err != nil {
			return nil, withComposeFiles(p, err)
		}
		if svc.Proxy != nil {
			image, err := o.toolImage(ctx)
			if err != nil {
				return nil, err
			}
			spec := newFrontDoorSpec(p, svc, image)
			prepared.FrontDoor = &spec
		}
		services = append(services, prepared)
	}
	return services, nil
}

// cpus returns the engine's CPU count when a service needs it for "max" or
// a negative instance count, else 0 without asking the engine.
func (o *Orchestrator) cpus(ctx context.Context, services []compose.Service) (int, error) {
	for _, svc := range services {
		if svc.Instances.Max || svc.Instances.Fixed < 0 {
			info, err := o.Engine.Info(ctx)
			if err != nil {
				return 0, fmt.Errorf("read engine CPU count: %w", err)
			}
			return info.NCPU, nil
		}
	}
	return 0, nil
}

func desiredState(services []*service) []DesiredService {
	desired := make([]DesiredService, 0, len(services))
	for _, svc := range services {
		d := DesiredService{Name: svc.Name, Count: svc.Count, Revision: svc.Template.Revision}
		if svc.FrontDoor != nil {
			d.FrontDoor = svc.FrontDoor.Revision
		}
		desired = append(desired, d)
	}
	return desired
}

// created is an instance container that this run started.
type created struct {
	ID          string
	Name        string
	Slot        int
	WaitTimeout time.Duration
}

// upRun carries out one plan and remembers what it created, so that a
// failed or interrupted run can remove exactly that.
type upRun struct {
	o        *Orchestrator
	p        *compose.Project
	opts     UpOptions
	services map[string]*service
	doors    map[string]*rotation

	mu         sync.Mutex
	containers []string
	// retired are old instances that left the rotation because their
	// slot's new instance serves it; an interrupted run removes them.
	retired []string
	// pending are running instances that were not ready when the run began.
	pending  []pendingInstance
	networks []string
	volumes  []string
}

func newUpRun(o *Orchestrator, p *compose.Project, services []*service, opts UpOptions) *upRun {
	run := &upRun{o: o, p: p, opts: opts, services: map[string]*service{}, doors: map[string]*rotation{}}
	for _, svc := range services {
		run.services[svc.Name] = svc
	}
	return run
}

func (r *upRun) track(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.containers = append(r.containers, id)
}

// untrack keeps a container that this run created out of the cleanup,
// because it serves its slot now.
func (r *upRun) untrack(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.containers = slices.DeleteFunc(r.containers, func(c string) bool { return c == id })
}

func (r *upRun) execute(ctx context.Context, plan Plan, observed []ObservedContainer) error {
	if err := r.ensureNetworks(ctx); err != nil {
		return err
	}
	if err := r.ensureVolumes(ctx); err != nil {
		return err
	}
	// Surplus containers of a slot, which an interrupted run leaves behind,
	// are removed only after the slot's kept instance is ready, so that the
	// slot stays served.
	var removals, creates, duplicates []Step
	for _, step := range plan.Steps {
		switch {
		case step.Kind == StepCreateFrontDoor, step.Kind == StepRemoveFrontDoor:
			if err := r.frontDoorStep(ctx, step); err != nil {
				return err
			}
		case step.Kind == StepRemove && step.Reason == reasonDuplicate:
			duplicates = append(duplicates, step)
		case step.Kind == StepRemove:
			removals = append(removals, step)
		default:
			creates = append(creates, step)
		}
	}
	if err := r.loadRotations(ctx, observed); err != nil {
		return err
	}
	if err := r.removeInstances(ctx, removals); err != nil {
		return err
	}
	if err := r.createInstances(ctx, creates); err != nil {
		return err
	}
	if err := r.waitPending(ctx); err != nil {
		return err
	}
	if err := r.removeInstances(ctx, duplicates); err != nil {
		return err
	}
	for _, change := range plan.Changed {
		if err := r.rollout(ctx, r.services[change.Service], change, observed); err != nil {
			return err
		}
	}
	return r.recordRevisions(ctx)
}

// recordRevisions adds each service's revision to its history when every
// instance runs it.
func (r *upRun) recordRevisions(ctx context.Context) error {
	for _, name := range slices.Sorted(maps.Keys(r.services)) {
		if err := r.o.recordRevision(ctx, r.p.Name, r.services[name].Template); err != nil {
			return err
		}
	}
	return nil
}

func (r *upRun) frontDoorStep(ctx context.Context, step Step) error {
	if step.Kind == StepRemoveFrontDoor {
		return r.o.removeFrontDoor(ctx, r.p.Name, step)
	}
	spec := r.services[step.Service].FrontDoor
	id, err := r.o.createFrontDoor(ctx, *spec)
	if id != "" {
		r.track(id)
	}
	if err != nil {
		return err
	}
	r.o.Report.emit(Event{Kind: EventStarted, Project: r.p.Name, Service: step.Service, Slot: -1,
		Container: spec.Name, Message: "front door"})
	return nil
}

// createInstances runs the create and start steps, at most Parallelism at
// once. The first failure cancels the others.
func (r *upRun) createInstances(ctx context.Context, steps []Step) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	limit := r.opts.Parallelism
	if limit <= 0 {
		limit = DefaultParallelism
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, step := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			var released sync.Once
			release := func() { released.Do(func() { <-sem }) }
			defer release()
			if err := r.createInstance(ctx, step, release); err != nil {
				if ctx.Err() == nil {
					r.o.Report.emit(Event{Kind: EventFailed, Project: r.p.Name, Service: step.Service, Slot: step.Slot,
						Container: step.Container, Message: firstLine(err)})
				}
				once.Do(func() { first = err; cancel(err) })
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return first
}

// createInstance creates (or starts) one instance, waits until it is ready,
// and only then adds it to its front door's rotation. It calls release once
// the instance started: the parallelism bound applies to the engine's
// create and start calls, not to the wait for readiness.
func (r *upRun) createInstance(ctx context.Context, step Step, release func()) error {
	svc := r.services[step.Service]
	inst := created{ID: step.ID, Name: step.Container, Slot: step.Slot, WaitTimeout: r.opts.WaitTimeout}
	if step.Kind == StepCreate {
		id := uuid.NewString()
		spec := svc.Template.Instance(r.p.Name, step.Slot, svc.Count, id)
		containerID, err := r.o.createInstanceContainer(ctx, r.p, spec)
		if err != nil {
			return err
		}
		r.track(containerID)
		inst.ID, inst.Name = containerID, spec.Name
		r.o.Report.emit(Event{Kind: EventCreated, Project: r.p.Name, Service: svc.Name, Slot: step.Slot, Container: spec.Name})
	}
	if err := r.o.Engine.ContainerStart(ctx, inst.ID, container.StartOptions{}); err != nil {
		return startError(inst.Name, &svc.Template.Host, err)
	}
	r.o.Report.emit(Event{Kind: EventStarted, Project: r.p.Name, Service: svc.Name, Slot: step.Slot, Container: inst.Name})
	release()
	if err := r.o.waitReady(ctx, r.p, svc.Service, inst); err != nil {
		return err
	}
	return r.addToRotation(ctx, svc, inst)
}
