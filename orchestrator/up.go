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
	// NoStart creates networks, volumes, front doors and instances without
	// starting them, and leaves every existing container as it is.
	NoStart bool
	// NoDeps converges only the named services, without the services they
	// depend on. Up still waits for a dependency that is part of the run.
	NoDeps bool
	// Detach returns once the new instances started, without waiting until
	// they are ready, for every service that waitsForReady leaves out.
	Detach bool
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
// once it is ready. Named services bring the services they depend on
// unless opts.NoDeps is set, and a service's instances start only once its
// dependencies meet their depends_on condition.
//
// When a step fails or ctx is cancelled, Up removes what this call created
// before it returns. Instances that existed before are left as they were.
// Up also fails, after its steps, when an instance of the file's revision
// is crash-looping.
func (o *Orchestrator) Up(ctx context.Context, p *compose.Project, opts UpOptions) error {
	start, err := o.planStart(p, opts)
	if err != nil {
		return err
	}
	selected, err := p.Select(start.Services)
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

	run := newUpRun(o, p, services, opts)
	defer run.close()
	run.start = start
	if err := run.ensureResources(ctx); err != nil {
		return errors.Join(err, run.cleanup(ctx))
	}
	if opts.NoStart {
		return run.createStopped(ctx, plan)
	}
	if plan.Empty() {
		return run.upToDate(ctx, services, observed)
	}
	if err := run.execute(ctx, plan, observed); err != nil {
		return errors.Join(err, run.cleanup(ctx))
	}
	run.reportDetached(plan)
	return o.checkCrashLoops(ctx, p.Name, services)
}

// waitsForReady reports whether the run waits until the new instances of
// svc are ready. It always does, unless UpOptions.Detach is set. Even then
// it waits for a one-shot service and for a service that another service
// of the run depends on with condition service_healthy. It also waits for
// a service behind a front door, because this process is what admits an
// instance to the rotation once it is ready.
func (r *upRun) waitsForReady(svc *service) bool {
	if !r.opts.Detach || svc.OneShot || svc.FrontDoor != nil {
		return true
	}
	for _, deps := range r.start.Waits {
		for _, dep := range deps {
			if dep.Service == svc.Name && dep.Condition != ConditionStarted {
				return true
			}
		}
	}
	return false
}

// reportDetached reports, for each service that the plan rolled out or
// that has new instances, that the run returned without waiting until they
// are ready, or why it waited despite Detach.
func (r *upRun) reportDetached(plan Plan) {
	if !r.opts.Detach {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(r.services)) {
		svc, n := r.services[name], r.started[name]
		rolledOut := slices.ContainsFunc(plan.Changed, func(c Change) bool { return c.Service == name })
		switch {
		case rolledOut:
			r.o.Report.emit(Event{Kind: EventInfo, Project: r.p.Name, Service: name, Slot: -1,
				Message: "rolled out despite --detach: an old instance leaves only once its replacement is ready"})
		case n == 0:
		case svc.OneShot:
			r.o.Report.emit(Event{Kind: EventInfo, Project: r.p.Name, Service: name, Slot: -1,
				Message: "waited until it completed despite --detach: a one-shot service's exit code is its result"})
		case r.waitsForReady(svc):
			r.o.Report.emit(Event{Kind: EventInfo, Project: r.p.Name, Service: name, Slot: -1,
				Message: "waited until ready despite --detach: " + readyWaitReason(svc)})
		default:
			r.o.Report.emit(Event{Kind: EventInfo, Project: r.p.Name, Service: name, Slot: -1, Message: fmt.Sprintf(
				"%s started and not waited for, as --detach asks: clusterctl ps shows when they are ready; "+
					"a later crash is not reported here", count(n, "instance"))})
		}
	}
}

// readyWaitReason returns the reason why a run with Detach set still
// waits for svc.
func readyWaitReason(svc *service) string {
	if svc.FrontDoor != nil {
		return "its front door admits an instance only once clusterctl saw it ready"
	}
	return "another service depends on it with condition service_healthy"
}

// upToDate finishes an up whose plan is empty: it repairs front door
// rotations that differ from the ready instances, waits for instances that
// are still starting, fails on crash-looping instances, or reports that
// there is nothing to do.
func (r *upRun) upToDate(ctx context.Context, services []*service, observed []ObservedContainer) error {
	o, p := r.o, r.p
	repaired, err := o.repairRotations(ctx, p, services, observed, r.opts.WaitTimeout)
	if err != nil || repaired {
		return cmpErr(err, o.checkCrashLoops(ctx, p.Name, services))
	}
	if err := r.loadPending(ctx, observed); err != nil {
		return err
	}
	waited := map[string]int{}
	for _, pending := range r.pending {
		waited[pending.svc.Name]++
	}
	for _, name := range slices.Sorted(maps.Keys(waited)) {
		o.Report.emit(Event{Kind: EventInfo, Project: p.Name, Service: name, Slot: -1, Message: fmt.Sprintf(
			"nothing to change; waiting for %s to get ready", count(waited[name], "starting instance"))})
	}
	if err := r.waitPending(ctx, ""); err != nil {
		return err
	}
	if err := o.checkCrashLoops(ctx, p.Name, services); err != nil {
		return err
	}
	for _, svc := range services {
		if waited[svc.Name] > 0 {
			continue
		}
		o.Report.emit(Event{Kind: EventUpToDate, Project: p.Name, Service: svc.Name, Slot: -1,
			Message: count(svc.Count, "instance") + " up to date, nothing to do"})
	}
	return nil
}

// planStart orders the selected services and, unless opts.NoDeps is set,
// what they depend on, and reports skipped and added dependencies.
func (o *Orchestrator) planStart(p *compose.Project, opts UpOptions) (StartPlan, error) {
	selected, err := p.Select(opts.Services)
	if err != nil {
		return StartPlan{}, err
	}
	names := make([]string, len(selected))
	for i, svc := range selected {
		names[i] = svc.Name
	}
	start, err := PlanStart(names, dependencyGraph(p), !opts.NoDeps)
	if err != nil {
		return StartPlan{}, &compose.InvalidError{Message: err.Error(), Err: err}
	}
	for _, skip := range start.Skipped {
		o.Report.emit(Event{Kind: EventWarning, Project: p.Name, Service: skip.Service, Slot: -1, Message: fmt.Sprintf(
			"depends_on %s skipped: that service is not enabled, and the dependency has required: false", skip.Dependency)})
	}
	for _, name := range start.Added {
		o.Report.emit(Event{Kind: EventInfo, Project: p.Name, Service: name, Slot: -1,
			Message: "included because a selected service depends on it; up --no-deps leaves it out"})
	}
	return start, nil
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
		prepared := &service{Service: svc, Count: o.resolveCount(p, svc, cpus), Template: tmpl}
		if err := compose.CheckInstanceCount(*svc, prepared.Count); err != nil {
			return nil, withComposeFiles(p, err)
		}
		if svc.Config.NetworkMode == "host" && prepared.Count > 1 {
			o.Report.emit(Event{Kind: EventWarning, Project: p.Name, Service: svc.Name, Slot: -1, Message: fmt.Sprintf(
				"network_mode host: the %d instances share the host's ports, so each must listen on its own port, "+
					"such as one derived from CLUSTERCTL_INSTANCE", prepared.Count)})
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

// resolveCount returns a service's instance count on an engine with cpus
// CPUs, and warns when a negative count leaves less than one CPU, because
// the service then runs one instance.
func (o *Orchestrator) resolveCount(p *compose.Project, svc *compose.Service, cpus int) int {
	n := svc.Instances.Resolve(cpus)
	if !svc.Instances.Max && svc.Instances.Fixed < 0 && cpus+svc.Instances.Fixed < 1 {
		o.Report.emit(Event{Kind: EventWarning, Project: p.Name, Service: svc.Name, Slot: -1, Message: fmt.Sprintf(
			"instances %d means the engine's %s minus %d, less than 1; running 1 instance",
			svc.Instances.Fixed, count(cpus, "CPU"), -svc.Instances.Fixed)})
	}
	return n
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
		d := DesiredService{Name: svc.Name, Count: svc.Count, Revision: svc.Template.Revision, OneShot: svc.OneShot}
		if svc.FrontDoor != nil {
			d.FrontDoor = svc.FrontDoor.Revision
		}
		desired = append(desired, d)
	}
	return desired
}

// created is an instance container that this run started, or a running
// one that it waits for.
type created struct {
	ID          string
	Name        string
	Slot        int
	WaitTimeout time.Duration
	// Restarts is the engine's restart count when the wait began. Only
	// restarts beyond it are crashes; it is 0 for a container that this
	// run started, because a start through the API resets the count.
	Restarts int
}

// upRun carries out one plan and remembers what it created, so that a
// failed or interrupted run can remove exactly that.
type upRun struct {
	o        *Orchestrator
	p        *compose.Project
	opts     UpOptions
	services map[string]*service
	doors    map[string]*rotation
	// start orders the services by depends_on; it is empty for the
	// rollout commands, which replace one service.
	start StartPlan

	mu         sync.Mutex
	containers []string
	// retired are old instances that left the rotation because their
	// slot's new instance serves it; an interrupted run removes them.
	retired []string
	// stopping maps old instances that are being stopped in the background
	// to a channel closed when the stop ended.
	stopping map[string]chan struct{}
	// background counts those stops and the first rotation pushes to front
	// doors that existed before the run. The run waits for them before it
	// returns.
	background sync.WaitGroup
	// leaving are old instances that swaps took out of rotation, by ID.
	leaving map[string]leavingBackend
	// pending are running instances that were not ready when the run began.
	pending []pendingInstance
	// started counts, by service, the instances that the run started.
	started  map[string]int
	networks []string
	volumes  []string
}

func newUpRun(o *Orchestrator, p *compose.Project, services []*service, opts UpOptions) *upRun {
	run := &upRun{o: o, p: p, opts: opts, services: map[string]*service{}, doors: map[string]*rotation{},
		stopping: map[string]chan struct{}{}, leaving: map[string]leavingBackend{}, started: map[string]int{}}
	for _, svc := range services {
		run.services[svc.Name] = svc
	}
	return run
}

// close waits for the run's background work and ends its member streams
// to its front doors.
func (r *upRun) close() {
	r.background.Wait()
	for _, rot := range r.doors {
		rot.close()
	}
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
	// Surplus containers of a slot, which an interrupted run leaves behind,
	// are removed only after the slot's kept instance is ready, so that the
	// slot stays served.
	// Front doors that go are removed before new ones start, so that a
	// service renamed in the file, removed with --remove-orphans, frees its
	// published ports for the new name's front door.
	for _, step := range plan.Steps {
		if step.Kind == StepRemoveFrontDoor {
			if err := r.frontDoorStep(ctx, step); err != nil {
				return err
			}
		}
	}
	var removals, creates, duplicates []Step
	for _, step := range plan.Steps {
		switch {
		case step.Kind == StepRemoveFrontDoor:
		case step.Kind == StepCreateFrontDoor, step.Kind == StepStart && step.Slot < 0:
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
	if err := r.loadPending(ctx, observed); err != nil {
		return err
	}
	if err := r.removeInstances(ctx, removals); err != nil {
		return err
	}
	if err := r.startServices(ctx, creates); err != nil {
		return err
	}
	if err := r.removeInstances(ctx, duplicates); err != nil {
		return err
	}
	changed := r.inStartOrder(plan.Changed)
	for _, change := range changed {
		if err := r.rollout(ctx, r.services[change.Service], change, observed); err != nil {
			return err
		}
	}
	if err := r.restartDependents(ctx, updatedServices(plan)); err != nil {
		return err
	}
	r.background.Wait()
	return r.recordRevisions(ctx)
}

// recordRevisions adds each service's revision to its history when every
// instance runs it.
func (r *upRun) recordRevisions(ctx context.Context) error {
	for _, name := range slices.Sorted(maps.Keys(r.services)) {
		svc := r.services[name]
		tmpl := svc.Template
		running, err := r.o.currentRevision(ctx, r.p.Name, name)
		if err != nil {
			return err
		}
		// A rollout whose failures max_failure_ratio allowed may leave the
		// service on its old revision. A one-shot service runs no instance
		// once it completed.
		if running != tmpl.Revision && !svc.OneShot && svc.Count > 0 {
			continue
		}
		if err := r.o.recordRevision(ctx, r.p.Name, tmpl); err != nil {
			return err
		}
	}
	return nil
}

func (r *upRun) frontDoorStep(ctx context.Context, step Step) error {
	switch step.Kind {
	case StepRemoveFrontDoor:
		return r.o.removeFrontDoor(ctx, r.p.Name, step)
	case StepStart:
		spec := r.services[step.Service].FrontDoor
		if err := r.o.startFrontDoor(ctx, step.ID, *spec); err != nil {
			return err
		}
		r.o.Report.emit(Event{Kind: EventStarted, Project: r.p.Name, Service: step.Service, Slot: -1,
			Container: step.Container, Message: "front door"})
		return nil
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

// createInstance creates (or starts) one instance, waits until it is ready,
// and only then adds it to its front door's rotation. It calls release once
// the instance started: the parallelism bound applies to the engine's
// create and start calls, not to the wait for readiness.
func (r *upRun) createInstance(ctx context.Context, step Step, release func()) error {
	svc := r.services[step.Service]
	inst := created{ID: step.ID, Name: step.Container, Slot: step.Slot, WaitTimeout: r.opts.WaitTimeout}
	if step.Kind == StepCreate {
		var err error
		if inst, err = r.newInstance(ctx, svc, step.Slot); err != nil {
			return err
		}
	}
	if err := r.o.Engine.ContainerStart(ctx, inst.ID, container.StartOptions{}); err != nil {
		return startError(inst.Name, &svc.Template.Host, err)
	}
	r.o.Report.emit(Event{Kind: EventStarted, Project: r.p.Name, Service: svc.Name, Slot: step.Slot, Container: inst.Name})
	release()
	r.mu.Lock()
	r.started[svc.Name]++
	r.mu.Unlock()
	if svc.OneShot {
		return r.o.waitCompleted(ctx, r.p, svc.Service, inst)
	}
	if !r.waitsForReady(svc) {
		return nil
	}
	if err := r.o.waitReady(ctx, r.p, svc.Service, inst); err != nil {
		return err
	}
	return r.addToRotation(ctx, svc, inst)
}

// newInstance creates the container of a new instance in slot
// without starting it, and remembers it for the cleanup.
func (r *upRun) newInstance(ctx context.Context, svc *service, slot int) (created, error) {
	spec := svc.Template.Instance(r.p.Name, slot, svc.Count, uuid.NewString())
	id, err := r.o.createInstanceContainer(ctx, r.p, spec, r.opts.NoStart)
	if err != nil {
		return created{}, err
	}
	r.track(id)
	r.o.Report.emit(Event{Kind: EventCreated, Project: r.p.Name, Service: svc.Name, Slot: slot, Container: spec.Name})
	return created{ID: id, Name: spec.Name, Slot: slot, WaitTimeout: r.opts.WaitTimeout}, nil
}
