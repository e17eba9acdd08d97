package orchestrator

import (
	"context"
	"errors"
	"fmt"

	"github.com/clusterctl/clusterctl/compose"
)

// ScaleTarget is one SERVICE=N argument of scale.
type ScaleTarget struct {
	Service string
	Count   compose.InstanceCount
}

// Scale changes the instance counts of services and nothing else. New
// instances get the configuration that the service's instances run now,
// not the file's, so that a scale never rolls out a change. The file's
// configuration is used only for a service with no running instance. A
// front door keeps its configuration too. Scaling down removes the highest
// slots, which leave the front door's rotation and drain before they stop.
// A service already at its count is left alone and reported up to date.
//
// When a step fails or ctx is cancelled, Scale removes the instances it
// created, as Up does.
func (o *Orchestrator) Scale(ctx context.Context, p *compose.Project, targets []ScaleTarget, opts UpOptions) error {
	var names []string
	for _, t := range targets {
		if err := p.SetInstances(t.Service, t.Count); err != nil {
			return err
		}
		names = append(names, t.Service)
	}
	selected, err := p.Select(names)
	if err != nil {
		return err
	}

	observed, err := o.observe(ctx, p.Name)
	if err != nil {
		return err
	}
	services, fromFile, err := o.prepareScale(ctx, p, selected, observed, opts)
	if err != nil {
		return err
	}

	var known []string
	for _, svc := range p.Services {
		known = append(known, svc.Name)
	}
	// Only the steps: instances on another revision than the running one
	// are a rollout's business, and orphans are up's.
	plan := Plan{Steps: PlanUp(desiredState(services), observed, PlanOptions{Known: known}).Steps}
	o.logger().Debug("scale plan", "project", p.Name, "steps", plan.String())
	if plan.Empty() {
		for _, svc := range services {
			o.Report.emit(Event{Kind: EventUpToDate, Project: p.Name, Service: svc.Name, Slot: -1,
				Message: fmt.Sprintf("already runs %s, nothing to do", count(svc.Count, "instance"))})
		}
		return nil
	}

	run := newUpRun(o, p, services, opts)
	defer run.close()
	// A service resolved from the file may belong to a project that is not
	// up, so its networks and volumes are created as up creates them. The
	// others run already and keep what their instances use.
	if err := run.ensureResourcesOf(ctx, fromFile); err != nil {
		return errors.Join(err, run.cleanup(ctx))
	}
	if err := run.execute(ctx, plan, observed); err != nil {
		return errors.Join(err, run.cleanup(ctx))
	}
	return nil
}

// prepareScale resolves the selected services for a scale: the template
// of the revision each service runs and the revision of its running front
// door. Only a service without a running instance is resolved from the
// file, with its image built when missing, as up does; fromFile lists
// those services.
func (o *Orchestrator) prepareScale(ctx context.Context, p *compose.Project, selected []compose.Service,
	observed []ObservedContainer, opts UpOptions) (services, fromFile []*service, err error) {
	cpus, err := o.cpus(ctx, selected)
	if err != nil {
		return nil, nil, err
	}
	for i := range selected {
		svc := &selected[i]
		tmpl, err := o.runningTemplate(ctx, p.Name, svc.Name)
		if err != nil {
			return nil, nil, err
		}
		if tmpl == nil {
			prepared, err := o.prepare(ctx, p, selected[i:i+1], opts)
			if err != nil {
				return nil, nil, err
			}
			services = append(services, prepared...)
			fromFile = append(fromFile, prepared...)
			continue
		}
		prepared := &service{Service: svc, Count: o.resolveCount(p, svc, cpus), Template: tmpl}
		if prepared.FrontDoor, err = o.scaleFrontDoor(ctx, p, svc, observed); err != nil {
			return nil, nil, err
		}
		services = append(services, prepared)
	}
	return services, fromFile, nil
}

// scaleFrontDoor returns the front door of a service as it runs, even when
// the file changed it or no longer has it, so that a scale leaves it in
// place. Without a running front door it returns the file's.
func (o *Orchestrator) scaleFrontDoor(ctx context.Context, p *compose.Project, svc *compose.Service,
	observed []ObservedContainer) (*frontDoorSpec, error) {
	for _, c := range observed {
		if c.Service == svc.Name && c.Role == RoleFrontDoor && c.State == "running" {
			return &frontDoorSpec{Name: c.Name, Revision: c.Revision}, nil
		}
	}
	if svc.Proxy == nil {
		return nil, nil
	}
	image, err := o.toolImage(ctx)
	if err != nil {
		return nil, err
	}
	spec := newFrontDoorSpec(p, svc, image)
	return &spec, nil
}

// count returns n with the noun, plural unless n is 1: "1 instance",
// "3 instances".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
