package orchestrator

import (
	"context"
	"errors"
	"sync"
	"time"
)

// checkCrashLoops returns an InstanceError for each instance of the
// services that runs the file's revision in a slot the file keeps and is
// crash-looping. up calls it last, so that up exits 1 while such an
// instance exists even when the file has not changed. The instance is left
// as it is, and the engine keeps restarting it unless on-failure:N gave up.
func (o *Orchestrator) checkCrashLoops(ctx context.Context, project string, services []*service) error {
	observed, err := o.observe(ctx, project)
	if err != nil {
		return err
	}

	byName := map[string]*service{}
	for _, svc := range services {
		byName[svc.Name] = svc
	}
	var current []ObservedContainer
	for _, c := range observed {
		svc, ok := byName[c.Service]
		if ok && c.Role == RoleInstance && c.Slot < svc.Count && c.Revision == svc.Template.Revision {
			current = append(current, c)
		}
	}

	instances, err := o.superviseAll(ctx, project, current)
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() { instances[i] = o.settleCrashLoop(ctx, instances[i]) })
	}
	wg.Wait()

	var errs []error
	for _, inst := range instances {
		if inst.Supervision.State != StateCrashloop {
			continue
		}
		c := crashOf(inst.Supervision, inst.Info)
		c.Reason += "; fix the cause and run clusterctl up, or replace the instance with clusterctl rollout restart " + inst.Service
		err := o.crashError(ctx, byName[inst.Service].Service, created{ID: inst.ID, Name: inst.Name, Slot: inst.Slot}, c)
		o.Report.emit(Event{Kind: EventFailed, Project: project, Service: inst.Service, Slot: inst.Slot,
			Container: inst.Name, Message: firstLine(err)})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// settleCrashLoop resolves an instance that ps calls crashloop only
// because the engine's events no longer tell how its last run ended: it
// runs again after a restart and has not reached min_uptime yet. It
// watches the instance until the run reaches min_uptime, and is no crash
// loop, or the instance exits again, which the inspection describes in
// full. The wait is bounded by min_uptime and ctx.
func (o *Orchestrator) settleCrashLoop(ctx context.Context, inst supervisedInstance) supervisedInstance {
	restarts := inst.Info.RestartCount
	for inst.Supervision.State == StateCrashloop && inst.Supervision.lastRunUnknown() && !inst.Info.State.Restarting {
		if sleep(ctx, pollInterval) != nil {
			return inst
		}
		info, err := o.Engine.ContainerInspect(ctx, inst.ID)
		if err != nil {
			return inst
		}
		var history runHistory
		if crashed(info, restarts) {
			history = o.readRunHistory(ctx, info)
			if again, err := o.Engine.ContainerInspect(ctx, inst.ID); err == nil {
				info = again
			}
		}
		inst.Info, inst.At = info, time.Now()
		inst.Supervision = supervise(info, policyOf(info), history, inst.At)
		if crashed(info, restarts) {
			return inst
		}
	}
	return inst
}
