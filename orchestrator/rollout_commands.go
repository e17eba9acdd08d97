package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/clusterctl/clusterctl/compose"
)

// ErrNoRevision is returned when rollout undo has no revision to go to.
var ErrNoRevision = errors.New("no such revision")

// Restart replaces every instance of a service with a fresh container of
// the configuration it runs, batch by batch, with the rollout rules. The
// file's configuration is used only when no instance runs.
func (o *Orchestrator) Restart(ctx context.Context, p *compose.Project, service string, opts UpOptions) error {
	svc, err := o.prepareOne(ctx, p, service, opts)
	if err != nil {
		return err
	}
	if tmpl, err := o.runningTemplate(ctx, p.Name, service); err != nil {
		return err
	} else if tmpl != nil {
		svc.Template = tmpl
	}
	return o.replaceAll(ctx, p, svc, opts, func(ObservedContainer) bool { return true })
}

// runningTemplate returns the template of the revision most of a
// service's instances run, or nil when none runs, so that a restart after
// an undo keeps the revision the undo went to.
func (o *Orchestrator) runningTemplate(ctx context.Context, project, service string) (*Template, error) {
	revision, err := o.currentRevision(ctx, project, service)
	if err != nil || revision == "" {
		return nil, err
	}
	observed, err := o.observe(ctx, project)
	if err != nil {
		return nil, err
	}
	for _, c := range observed {
		if c.Service != service || c.Role != RoleInstance || c.Revision != revision {
			continue
		}
		info, err := o.Engine.ContainerInspect(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", c.Name, err)
		}
		return ParseTemplate(info.Config.Labels[LabelSpec], revision)
	}
	return nil, nil
}

// Undo rolls a service back to an earlier revision from its history: the
// one before the current revision, or number toRevision when it is not 0.
// The file is not changed, so the next up rolls forward to it again.
func (o *Orchestrator) Undo(ctx context.Context, p *compose.Project, service string, toRevision int, opts UpOptions) error {
	svc, err := o.prepareOne(ctx, p, service, opts)
	if err != nil {
		return err
	}
	history, err := o.History(ctx, p.Name, service)
	if err != nil {
		return err
	}
	running, err := o.currentRevision(ctx, p.Name, service)
	if err != nil {
		return err
	}
	if running == "" {
		return fmt.Errorf("rollout undo %s: no instance of %s runs on this engine, so there is nothing "+
			"to undo; run clusterctl up to start it", service, service)
	}
	target, err := undoTarget(history, toRevision)
	if err != nil {
		return fmt.Errorf("rollout undo %s: %w", service, err)
	}
	svc.Template = target.Template
	o.Report.emit(Event{Kind: EventInfo, Project: p.Name, Service: service, Slot: -1,
		Message: fmt.Sprintf("undo to revision %d (%s, image %s)", target.Number, target.Revision, target.Image)})
	return o.replaceAll(ctx, p, svc, opts, func(c ObservedContainer) bool { return c.Revision != target.Revision })
}

// undoTarget picks the revision that undo goes to.
func undoTarget(history []Revision, toRevision int) (Revision, error) {
	if toRevision != 0 {
		for _, rev := range history {
			if rev.Number == toRevision {
				return rev, nil
			}
		}
		return Revision{}, fmt.Errorf("%w: revision %d is not in the history; run clusterctl rollout history to list them",
			ErrNoRevision, toRevision)
	}
	current := slices.IndexFunc(history, func(r Revision) bool { return r.Current })
	if current < 0 {
		current = len(history)
	}
	if current < 1 {
		return Revision{}, fmt.Errorf("%w: there is no revision before the current one", ErrNoRevision)
	}
	return history[current-1], nil
}

// prepareOne resolves one service of the file, with its front door.
func (o *Orchestrator) prepareOne(ctx context.Context, p *compose.Project, service string, opts UpOptions) (*service, error) {
	selected, err := p.Select([]string{service})
	if err != nil {
		return nil, err
	}
	services, err := o.prepare(ctx, p, selected, opts)
	if err != nil {
		return nil, err
	}
	return services[0], nil
}

// replaceAll rolls the service's running instances that match out to the
// service's template.
func (o *Orchestrator) replaceAll(ctx context.Context, p *compose.Project, svc *service, opts UpOptions,
	match func(ObservedContainer) bool) error {
	if svc.OneShot {
		return fmt.Errorf("service %s runs to completion, because another service depends on it with condition %s, "+
			"so it has no instances to roll; change its configuration in the file and run clusterctl up to run it again",
			svc.Name, ConditionCompleted)
	}
	observed, err := o.observe(ctx, p.Name)
	if err != nil {
		return err
	}
	// The service keeps the instance count it runs, which scale may have
	// set apart from the file, as it keeps the revision it runs.
	running := 0
	for _, c := range observed {
		if c.Service == svc.Name && c.Role == RoleInstance {
			running = max(running, c.Slot+1)
		}
	}
	if running > 0 {
		svc.Count = running
	}
	change := Change{Service: svc.Name, Revision: svc.Template.Revision, Containers: map[int]string{}}
	for _, c := range observed {
		if c.Service == svc.Name && c.Role == RoleInstance && c.Slot < svc.Count && match(c) {
			change.Containers[c.Slot] = c.ID
		}
	}
	if len(change.Containers) == 0 {
		o.Report.emit(Event{Kind: EventUpToDate, Project: p.Name, Service: svc.Name, Slot: -1,
			Message: "no instance to replace"})
		return nil
	}
	run := newUpRun(o, p, []*service{svc}, opts)
	defer run.close()
	err = run.loadRotations(ctx, observed)
	if err == nil {
		err = run.rollout(ctx, svc, change, observed)
	}
	if err != nil {
		return errors.Join(err, run.cleanup(ctx))
	}
	return nil
}

// ServiceStatus is one row of rollout status.
type ServiceStatus struct {
	Service string `json:"service"`
	// Revision is the revision the file describes.
	Revision string `json:"revision"`
	// Desired is the file's instance count.
	Desired int `json:"desired"`
	// Running counts the running instances, which differ from Desired
	// after a scale.
	Running int `json:"running"`
	// Revisions counts running instances per revision.
	Revisions map[string]int `json:"revisions"`
	// UpToDate counts running instances on the file's revision.
	UpToDate int `json:"up_to_date"`
	// Holder names the command that holds the project's lock, if any.
	Holder string `json:"holder,omitempty"`
}

// RolloutStatus compares each selected service's file revision with what
// runs.
func (o *Orchestrator) RolloutStatus(ctx context.Context, p *compose.Project, services []string) ([]ServiceStatus, error) {
	selected, err := p.Select(services)
	if err != nil {
		return nil, err
	}
	prepared, err := o.prepare(ctx, p, selected, UpOptions{})
	if err != nil {
		return nil, err
	}
	observed, err := o.observe(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	holder := ""
	if info, err := o.Engine.ContainerInspect(ctx, LockName(p.Name)); err == nil && info.State.Running {
		holder = info.Config.Labels[labelLockHolder]
	}
	var rows []ServiceStatus
	for _, svc := range prepared {
		row := ServiceStatus{Service: svc.Name, Revision: svc.Template.Revision, Desired: svc.Count,
			Revisions: map[string]int{}, Holder: holder}
		for _, c := range observed {
			if c.Service == svc.Name && c.Role == RoleInstance && c.State == "running" {
				row.Revisions[c.Revision]++
				row.Running++
			}
		}
		row.UpToDate = row.Revisions[svc.Template.Revision]
		rows = append(rows, row)
	}
	return rows, nil
}
