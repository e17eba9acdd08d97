package orchestrator

import (
	"context"
	"errors"
)

// checkCrashLoops returns an InstanceError for each instance of the
// services that runs the file's revision in a slot the file keeps and is
// crash-looping. up calls it last, so that up exits 1 while such an
// instance exists even when the file has not changed. The instance is left
// as it is: it was there before this run, and the engine keeps restarting
// it unless on-failure:N gave up.
func (o *Orchestrator) checkCrashLoops(ctx context.Context, project string, services []*service) error {
	observed, err := o.observe(ctx, project)
	if err != nil {
		return err
	}
	byName := map[string]*service{}
	for _, svc := range services {
		byName[svc.Name] = svc
	}
	var kept []ObservedContainer
	for _, c := range observed {
		svc, ok := byName[c.Service]
		if ok && c.Role == RoleInstance && c.Slot < svc.Count && c.Revision == svc.Template.Revision {
			kept = append(kept, c)
		}
	}
	instances, err := o.superviseAll(ctx, project, kept)
	if err != nil {
		return err
	}
	var errs []error
	for _, inst := range instances {
		if inst.Supervision.State != StateCrashloop {
			continue
		}
		var memory int64
		if inst.Info.HostConfig != nil {
			memory = inst.Info.HostConfig.Memory
		}
		reason := inst.Supervision.crashReason(memory) +
			"; fix the cause and run clusterctl up, or replace the instance with clusterctl rollout restart " + inst.Service
		err := o.instanceError(ctx, byName[inst.Service].Service, created{ID: inst.ID, Name: inst.Name, Slot: inst.Slot}, reason, "")
		o.Report.emit(Event{Kind: EventFailed, Project: project, Service: inst.Service, Slot: inst.Slot,
			Container: inst.Name, Message: firstLine(err)})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
