package orchestrator

import (
	"context"
	"errors"
	"fmt"

	"github.com/clusterctl/clusterctl/compose"
)

// createStopped carries out up --no-start: it creates the networks, the
// volumes, and the plan's missing front doors and instances without
// starting them, as docker compose up --no-start does. Every other step
// (starting, removing or rolling out containers) is left to the next up,
// with a warning, so that no running instance stops. A created front door
// stays stopped too, and the next up starts it before its instances.
func (o *Orchestrator) createStopped(ctx context.Context, p *compose.Project, services []*service, plan Plan, opts UpOptions) error {
	plan, deferred := plan.CreateOnly()
	for _, step := range deferred {
		o.Report.emit(Event{Kind: EventWarning, Project: p.Name, Slot: -1,
			Message: "--no-start leaves this for the next up: " + step})
	}
	run := newUpRun(o, p, services, opts)
	if err := run.createAll(ctx, plan); err != nil {
		return errors.Join(err, run.cleanup(ctx))
	}
	if len(plan.Steps) == 0 {
		o.Report.emit(Event{Kind: EventUpToDate, Project: p.Name, Slot: -1, Message: "no container to create"})
	}
	return nil
}

// createAll creates the networks, volumes and containers of a plan whose
// steps are all creates, in the plan's order, and starts none of them.
func (r *upRun) createAll(ctx context.Context, plan Plan) error {
	if err := r.ensureNetworks(ctx); err != nil {
		return err
	}
	if err := r.ensureVolumes(ctx); err != nil {
		return err
	}
	for _, step := range plan.Steps {
		svc := r.services[step.Service]
		switch step.Kind {
		case StepCreateFrontDoor:
			spec := *svc.FrontDoor
			id, err := r.o.createContainer(ctx, spec.Name, spec.Config, spec.Host, spec.Network, spec.Endpoint, spec.Extra)
			if err != nil {
				return err
			}
			r.track(id)
			r.o.Report.emit(Event{Kind: EventCreated, Project: r.p.Name, Service: step.Service, Slot: -1,
				Container: spec.Name, Message: "front door, not started"})
		case StepCreate:
			if _, err := r.createInstanceContainer(ctx, svc, step.Slot); err != nil {
				return err
			}
		default:
			return fmt.Errorf("up --no-start cannot run plan step %q", step)
		}
	}
	return nil
}
