package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// serviceGate tracks one service during a run, so that its dependents can
// wait for the depends_on condition they name.
type serviceGate struct {
	// started closes once every instance that the run starts has started.
	started chan struct{}
	// done closes once every instance is ready (or, for a one-shot
	// service, completed), or the service failed; err is set before.
	done        chan struct{}
	err         error
	startedOnce sync.Once
}

func newServiceGate() *serviceGate {
	return &serviceGate{started: make(chan struct{}), done: make(chan struct{})}
}

func (g *serviceGate) markStarted() {
	g.startedOnce.Do(func() { close(g.started) })
}

// finish records the service's outcome. done closes before started, so a
// dependent woken by started after a failure finds err set.
func (g *serviceGate) finish(err error) {
	g.err = err
	close(g.done)
	g.markStarted()
}

// startRun runs the create and start steps of one up, service by service.
type startRun struct {
	r      *upRun
	cancel context.CancelCauseFunc
	sem    chan struct{}
	gates  map[string]*serviceGate

	once  sync.Once
	first error
}

// fail records the run's first error and cancels the other steps.
func (s *startRun) fail(err error) {
	s.once.Do(func() {
		s.first = err
		s.cancel(err)
	})
}

// startServices runs the create and start steps. A service's steps begin
// once the services it depends on meet their depends_on condition, and a
// service counts as ready only when its pending instances are ready too.
// At most Parallelism instances are created and started at once; the
// wait for readiness does not count. The first failure cancels the rest.
func (r *upRun) startServices(ctx context.Context, steps []Step) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	limit := r.opts.Parallelism
	if limit <= 0 {
		limit = DefaultParallelism
	}
	s := &startRun{r: r, cancel: cancel, sem: make(chan struct{}, limit), gates: map[string]*serviceGate{}}
	byService := map[string][]Step{}
	for _, step := range steps {
		byService[step.Service] = append(byService[step.Service], step)
	}
	for name := range r.services {
		s.gates[name] = newServiceGate()
	}
	var wg sync.WaitGroup
	for name := range r.services {
		wg.Go(func() {
			err := s.startService(ctx, name, byService[name])
			s.gates[name].finish(err)
			if err != nil {
				s.fail(err)
			}
		})
	}
	wg.Wait()
	if s.first == nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return s.first
}

// startService waits for the service's dependencies, runs its steps, and
// waits for its pending instances.
//
// NOTE: a one-shot instance that an interrupted run left running has no
// step, so its dependents do not wait for it to complete.
func (s *startRun) startService(ctx context.Context, name string, steps []Step) error {
	for _, dep := range s.r.start.Waits[name] {
		if err := s.waitDependency(ctx, name, dep); err != nil {
			return err
		}
	}
	gate := s.gates[name]
	var started sync.WaitGroup
	started.Add(len(steps))
	go func() {
		started.Wait()
		gate.markStarted()
	}()
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Go(func() {
			errs[i] = s.runStep(ctx, step, started.Done)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return s.r.waitPending(ctx, name)
}

// runStep runs one create or start step within the parallelism bound and
// calls started once the instance started or the step ended without it.
func (s *startRun) runStep(ctx context.Context, step Step, started func()) error {
	acquired := false
	var once sync.Once
	release := func() {
		once.Do(func() {
			if acquired {
				<-s.sem
			}
			started()
		})
	}
	defer release()
	select {
	case s.sem <- struct{}{}:
		acquired = true
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	err := s.r.createInstance(ctx, step, release)
	if err != nil {
		if ctx.Err() == nil {
			s.r.o.Report.emit(Event{Kind: EventFailed, Project: s.r.p.Name, Service: step.Service, Slot: step.Slot,
				Container: step.Container, Message: firstLine(err)})
		}
		s.fail(err)
	}
	return err
}

// waitDependency blocks until dep meets its condition: its instances
// started (service_started), are ready (service_healthy), or completed
// with exit code 0 (service_completed_successfully, which only one-shot
// services are the target of).
func (s *startRun) waitDependency(ctx context.Context, service string, dep Dependency) error {
	gate := s.gates[dep.Service]
	wait := gate.done
	if dep.Condition == ConditionStarted {
		wait = gate.started
	}
	select {
	case <-wait:
	default:
		s.r.o.Report.emit(Event{Kind: EventInfo, Project: s.r.p.Name, Service: service, Slot: -1,
			Message: fmt.Sprintf("waits for %s (%s)", dep.Service, dep.Condition)})
		select {
		case <-wait:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	select {
	case <-gate.done:
		if gate.err != nil {
			return fmt.Errorf("service %s depends on %s (%s), which failed: %w", service, dep.Service, dep.Condition, gate.err)
		}
	default:
	}
	return nil
}

// inStartOrder sorts changes by the run's start order, so that a
// dependency rolls out before its dependents.
func (r *upRun) inStartOrder(changes []Change) []Change {
	sorted := slices.Clone(changes)
	slices.SortStableFunc(sorted, func(a, b Change) int {
		return slices.Index(r.start.Services, a.Service) - slices.Index(r.start.Services, b.Service)
	})
	return sorted
}

// updatedServices returns the services whose instances a plan replaces:
// rolled out, or, for one-shot services, removed and created again.
func updatedServices(plan Plan) []string {
	var names []string
	for _, change := range plan.Changed {
		names = append(names, change.Service)
	}
	for _, step := range plan.Steps {
		if step.Kind == StepRemove && step.Reason == reasonChanged && !slices.Contains(names, step.Service) {
			names = append(names, step.Service)
		}
	}
	return names
}

// restartDependents replaces the instances of every service that depends
// on an updated service with restart: true, as Docker Compose restarts
// them, unless the run updated that service itself. The replacement
// follows the rollout rules, so each slot stays served. One-shot services
// are left out, because a rollout waits for readiness, which they never
// reach.
func (r *upRun) restartDependents(ctx context.Context, updated []string) error {
	for _, name := range r.start.Services {
		svc := r.services[name]
		if svc == nil || svc.OneShot || slices.Contains(updated, name) {
			continue
		}
		var causes []string
		for _, dep := range r.start.Waits[name] {
			if dep.Restart && slices.Contains(updated, dep.Service) {
				causes = append(causes, dep.Service)
			}
		}
		if len(causes) == 0 {
			continue
		}
		r.o.Report.emit(Event{Kind: EventInfo, Project: r.p.Name, Service: name, Slot: -1, Message: fmt.Sprintf(
			"replacing instances because %s changed and depends_on sets restart: true", strings.Join(causes, ", "))})
		if err := r.o.replaceAll(ctx, r.p, svc, r.opts, func(ObservedContainer) bool { return true }); err != nil {
			return err
		}
	}
	return nil
}
