package orchestrator

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
)

// Instance states as ps reports them.
const (
	StateStarting  = "starting"
	StateReady     = "ready"
	StateUnhealthy = "unhealthy"
	StateCrashloop = "crashloop"
	StateExited    = "exited"
	StateDraining  = "draining"
)

// InstanceStatus is one row of ps.
type InstanceStatus struct {
	Project  string `json:"project"`
	Service  string `json:"service"`
	Slot     int    `json:"instance"`
	Name     string `json:"name"`
	ID       string `json:"id"`
	Image    string `json:"image"`
	Revision string `json:"revision"`
	State    string `json:"state"`
	// Health is the engine's health status, or "none" without a healthcheck.
	Health    string     `json:"health"`
	Restarts  int        `json:"restarts"`
	StartedAt *time.Time `json:"started_at"`
	ExitCode  int        `json:"exit_code"`
}

// PS returns the instances of the project, sorted by service and slot.
// services limits the result; empty means all. Front doors are not
// instances and are left out.
func (o *Orchestrator) PS(ctx context.Context, project string, services []string) ([]InstanceStatus, error) {
	observed, err := o.observe(ctx, project)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var rows []InstanceStatus
	var errs []error
	for _, c := range observed {
		if c.Role != RoleInstance || (len(services) > 0 && !slices.Contains(services, c.Service)) {
			continue
		}
		wg.Go(func() {
			info, err := o.Engine.ContainerInspect(ctx, c.ID)
			mu.Lock()
			defer mu.Unlock()
			if errdefs.IsNotFound(err) {
				return // removed since the list was taken
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("inspect %s: %w", c.Name, err))
				return
			}
			rows = append(rows, statusOf(project, c, info))
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	slices.SortFunc(rows, func(a, b InstanceStatus) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Slot, b.Slot), cmp.Compare(a.Name, b.Name))
	})
	return rows, nil
}

func statusOf(project string, c ObservedContainer, info container.InspectResponse) InstanceStatus {
	row := InstanceStatus{
		Project: project, Service: c.Service, Slot: c.Slot, Name: c.Name, ID: c.ID,
		Image: cmp.Or(info.Config.Labels[LabelImage], info.Config.Image), Revision: c.Revision, Health: "none",
		Restarts: info.RestartCount, ExitCode: info.State.ExitCode,
	}
	if info.State.Health != nil {
		row.Health = info.State.Health.Status
	}
	if started, err := time.Parse(time.RFC3339Nano, info.State.StartedAt); err == nil && !started.IsZero() && started.Year() > 1 {
		row.StartedAt = &started
	}
	row.State = instanceState(info)
	return row
}

// instanceState maps the engine's view of a container to a ps state. A
// container that restarted and runs again counts as crashloop until it is
// healthy, or for an instance without a healthcheck until it has run for
// DefaultMinUptime.
func instanceState(info container.InspectResponse) string {
	state := info.State
	switch {
	case state.Restarting:
		return StateCrashloop
	case !state.Running:
		return StateExited
	}
	if state.Health != nil {
		switch state.Health.Status {
		case container.Healthy:
			return StateReady
		case container.Unhealthy:
			return StateUnhealthy
		}
		if info.RestartCount > 0 {
			return StateCrashloop
		}
		return StateStarting
	}
	started, _ := time.Parse(time.RFC3339Nano, state.StartedAt)
	if time.Since(started) < DefaultMinUptime {
		if info.RestartCount > 0 {
			return StateCrashloop
		}
		return StateStarting
	}
	return StateReady
}
