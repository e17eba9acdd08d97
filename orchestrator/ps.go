package orchestrator

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
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
	Health string `json:"health"`
	// Restarts is the engine's restart count. It counts every automatic
	// restart since the container was created or last started through the
	// API, after short and long runs alike.
	Restarts  int        `json:"restarts"`
	StartedAt *time.Time `json:"started_at"`
	// ExitCode is the code of the latest exit, kept while the engine runs
	// the instance again; 0 when it never exited.
	ExitCode int `json:"exit_code"`
	// OOMKilled is true when the latest exit was a kill for exceeding the
	// memory limit.
	OOMKilled bool `json:"oom_killed"`
	// UnstableExits counts the latest exits in a row that came sooner than
	// min_uptime.
	UnstableExits int `json:"unstable_exits"`
	// NextRestartAt estimates when the engine restarts an instance that it
	// waits on, from the engine's backoff rule; null otherwise.
	NextRestartAt *time.Time `json:"next_restart_at"`
	// GaveUp is true when the engine stopped restarting the instance
	// because on-failure:N used up its N restarts.
	GaveUp bool `json:"gave_up"`
	// Backoff describes what the engine does next in words, such as
	// "restarting in 800ms" or "gave up after 5 restarts"; empty when it
	// does nothing.
	Backoff string `json:"backoff,omitempty"`
}

// PS returns the instances of the project, sorted by service and slot.
// services limits the result; empty means all. Front doors are not
// instances and are left out.
func (o *Orchestrator) PS(ctx context.Context, project string, services []string) ([]InstanceStatus, error) {
	observed, err := o.observe(ctx, project)
	if err != nil {
		return nil, err
	}
	var selected []ObservedContainer
	for _, c := range observed {
		if c.Role == RoleInstance && (len(services) == 0 || slices.Contains(services, c.Service)) {
			selected = append(selected, c)
		}
	}
	instances, err := o.superviseAll(ctx, project, selected)
	if err != nil {
		return nil, err
	}
	rows := make([]InstanceStatus, 0, len(instances))
	withoutHealthcheck := map[string]bool{}
	for _, inst := range instances {
		rows = append(rows, inst.status(project))
		if cfg := inst.Info.Config; cfg == nil || !hasHealthcheck(cfg.Healthcheck) {
			withoutHealthcheck[inst.ID] = true
		}
	}
	o.markRotation(ctx, observed, rows, withoutHealthcheck)
	slices.SortFunc(rows, func(a, b InstanceStatus) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Slot, b.Slot), cmp.Compare(a.Name, b.Name))
	})
	return rows, nil
}

// supervisedInstance is an instance with its inspection and how the engine
// supervises it.
type supervisedInstance struct {
	ObservedContainer
	Info        container.InspectResponse
	Supervision supervision
	// At is when the supervision was computed.
	At time.Time
}

// superviseAll inspects the containers in parallel and computes their
// supervision from one read of the project's events. The events are read
// first, because supervise takes the inspection to be as new as them or
// newer. Containers removed since they were listed are left out.
func (o *Orchestrator) superviseAll(ctx context.Context, project string, containers []ObservedContainer) ([]supervisedInstance, error) {
	if len(containers) == 0 {
		return nil, nil
	}
	since := containers[0].Created
	for _, c := range containers {
		if c.Created.Before(since) {
			since = c.Created
		}
	}
	histories := o.readRunHistories(ctx, filters.NewArgs(filters.Arg("label", LabelProject+"="+project)), since)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var out []supervisedInstance
	var errs []error
	for _, c := range containers {
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
			var history runHistory
			if h := histories[c.ID]; h != nil {
				history = *h
			}
			now := time.Now()
			out = append(out, supervisedInstance{ObservedContainer: c, Info: info,
				Supervision: supervise(info, policyOf(info), history, now), At: now})
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return out, nil
}

// status returns the ps row of the instance.
func (inst supervisedInstance) status(project string) InstanceStatus {
	info, sup := inst.Info, inst.Supervision
	row := InstanceStatus{
		Project: project, Service: inst.Service, Slot: inst.Slot, Name: inst.Name, ID: inst.ID,
		Image: cmp.Or(info.Config.Labels[LabelImage], info.Config.Image), Revision: inst.Revision, Health: "none",
		State: sup.State, Restarts: sup.Restarts, ExitCode: info.State.ExitCode,
		UnstableExits: sup.UnstableExits, GaveUp: sup.GaveUp, Backoff: sup.backoff(inst.At),
	}
	if sup.LastExit != nil {
		row.ExitCode, row.OOMKilled = sup.LastExit.ExitCode, sup.LastExit.OOMKilled
	}
	row.OOMKilled = row.OOMKilled || sup.EarlierOOMKill
	if info.State.Health != nil {
		row.Health = info.State.Health.Status
	}
	if started := parseTime(info.State.StartedAt); !started.IsZero() {
		row.StartedAt = &started
	}
	if !sup.NextRestart.IsZero() {
		next := sup.NextRestart
		row.NextRestartAt = &next
	}
	return row
}

// instanceState returns the ps state of a container from its inspection
// alone, without reading events: an instance that restarted counts as
// crashloop until it reaches its minimum uptime, whatever ended the run
// before.
func instanceState(info container.InspectResponse) string {
	return supervise(info, policyOf(info), runHistory{}, time.Now()).State
}

// markRotation corrects the states of running instances from their front
// door's status, read once per front door in parallel. An instance that the
// front door took out of rotation and drains before its stop signal is
// draining. An instance without a healthcheck is ready exactly while the
// front door serves it, because a ready probe's result is known to the
// front door alone. A front door whose status cannot be read changes
// nothing.
func (o *Orchestrator) markRotation(ctx context.Context, observed []ObservedContainer, rows []InstanceStatus,
	withoutHealthcheck map[string]bool) {
	doors := map[string]string{}
	for _, c := range observed {
		if c.Role == RoleFrontDoor && c.State == container.StateRunning {
			doors[c.Service] = c.ID
		}
	}
	candidates := map[string]bool{}
	for _, r := range rows {
		if doors[r.Service] != "" && inRotationState(r.State) {
			candidates[r.Service] = true
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	members, draining, answered := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for service := range candidates {
		wg.Go(func() {
			served, drained, ok := o.frontDoorRotation(ctx, doors[service])
			if !ok {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			maps.Copy(members, served)
			maps.Copy(draining, drained)
			answered[service] = true
		})
	}
	wg.Wait()
	for i := range rows {
		r := &rows[i]
		switch {
		case !inRotationState(r.State):
		case draining[r.ID] && !members[r.ID]:
			// A member that is also draining was added back while its
			// earlier requests finish: it serves.
			r.State = StateDraining
		case answered[r.Service] && withoutHealthcheck[r.ID] && members[r.ID]:
			r.State = StateReady
		case answered[r.Service] && withoutHealthcheck[r.ID] && r.State == StateReady:
			r.State = StateStarting
		}
	}
}

// inRotationState reports whether an instance in state may be in its
// front door's rotation, or drained by it.
func inRotationState(state string) bool {
	return state == StateReady || state == StateStarting || state == StateUnhealthy
}
