package orchestrator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/clusterctl/clusterctl/compose"
)

// waitCompleted waits until an instance of a one-shot service exits. Exit
// code 0 completes it; any other code returns an *InstanceError with the
// code, the services that wait for it, and its last log lines. A restart
// by an on-failure policy is not an exit. Only inst.WaitTimeout bounds the
// wait, because a one-shot task such as a migration takes as long as it
// takes; cancelling ctx ends it.
func (o *Orchestrator) waitCompleted(ctx context.Context, p *compose.Project, svc *compose.Service, inst created) error {
	o.Report.emit(Event{Kind: EventWaiting, Project: p.Name, Service: svc.Name, Slot: inst.Slot,
		Container: inst.Name, Message: "runs to completion"})
	start := time.Now()
	for {
		info, err := o.Engine.ContainerInspect(ctx, inst.ID)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", inst.Name, err)
		}
		state := info.State
		if state.Status == "exited" || state.Status == "dead" {
			if state.ExitCode == 0 && !state.OOMKilled {
				o.Report.emit(Event{Kind: EventReady, Project: p.Name, Service: svc.Name, Slot: inst.Slot,
					Container: inst.Name, Message: "completed with exit code 0"})
				return nil
			}
			return o.instanceError(ctx, svc, inst, completionFailure(p, svc.Name, state.ExitCode, state.OOMKilled), "")
		}
		if inst.WaitTimeout > 0 && time.Since(start) > inst.WaitTimeout {
			return o.instanceError(ctx, svc, inst, fmt.Sprintf("did not complete within %s", inst.WaitTimeout), "")
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return err
		}
	}
}

// completionFailure is the reason of a one-shot instance that exited with
// a code other than 0, naming the services that needed it to succeed.
func completionFailure(p *compose.Project, name string, code int, oomKilled bool) string {
	reason := fmt.Sprintf("exited with code %d", code)
	if oomKilled {
		reason = fmt.Sprintf("was killed for exceeding its memory limit (OOMKilled, exit code %d)", code)
	}
	var dependents []string
	for i := range p.Services {
		dep, ok := p.Services[i].Config.DependsOn[name]
		if ok && dep.Condition == ConditionCompleted {
			dependents = append(dependents, p.Services[i].Name)
		}
	}
	if len(dependents) > 0 {
		verb := "depends"
		if len(dependents) > 1 {
			verb = "depend"
		}
		reason += fmt.Sprintf("; %s %s on it with condition %s, which needs exit code 0",
			strings.Join(dependents, ", "), verb, ConditionCompleted)
	}
	return reason
}
