package orchestrator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
)

// createStopped carries out up --no-start once the networks and volumes
// exist: it creates the plan's missing front doors and instances without
// starting them, as docker compose up --no-start does. Every other step
// (starting, removing or rolling out containers) is left to the next up,
// with a warning, so that no running instance stops. A created front door
// stays stopped too, and the next up starts it before its instances.
func (r *upRun) createStopped(ctx context.Context, plan Plan) error {
	plan, deferred := plan.CreateOnly()
	// Creates go in depends_on order, because a network_mode, ipc, pid,
	// volumes_from or link reference to another service needs its container.
	slices.SortStableFunc(plan.Steps, func(a, b Step) int {
		return cmp.Compare(slices.Index(r.start.Services, a.Service), slices.Index(r.start.Services, b.Service))
	})
	for _, step := range deferred {
		r.o.Report.emit(Event{Kind: EventWarning, Project: r.p.Name, Slot: -1,
			Message: "--no-start leaves this for the next up: " + step})
	}
	if err := r.createAll(ctx, plan); err != nil {
		return errors.Join(err, r.cleanup(ctx))
	}
	if len(plan.Steps) == 0 {
		r.o.Report.emit(Event{Kind: EventUpToDate, Project: r.p.Name, Slot: -1, Message: "no container to create"})
	}
	return nil
}

// createAll creates the containers of a plan whose steps are all creates,
// in the plan's order, and starts none of them.
func (r *upRun) createAll(ctx context.Context, plan Plan) error {
	for _, step := range plan.Steps {
		svc := r.services[step.Service]
		switch step.Kind {
		case StepCreateFrontDoor:
			spec := *svc.FrontDoor
			id, err := r.o.createContainer(ctx, spec.Name, spec.Config, spec.Host, spec.Network, spec.Endpoint, spec.Extra, "")
			if err != nil {
				return err
			}
			r.track(id)
			r.o.Report.emit(Event{Kind: EventCreated, Project: r.p.Name, Service: step.Service, Slot: -1,
				Container: spec.Name, Message: "front door, not started"})
		case StepCreate:
			inst, err := r.newInstance(ctx, svc, step.Slot)
			if err != nil {
				return err
			}
			// The stopped event ends the instance's progress line, which
			// otherwise waits for a start.
			r.o.Report.emit(Event{Kind: EventStopped, Project: r.p.Name, Service: svc.Name, Slot: step.Slot,
				Container: inst.Name, Message: "created, not started (up --no-start)"})
		default:
			return fmt.Errorf("up --no-start cannot run plan step %q", step)
		}
	}
	return nil
}
