package orchestrator

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// DesiredService is the file's state of one service, reduced to the values
// the planner compares.
type DesiredService struct {
	Name     string
	Count    int
	Revision string
	// FrontDoor is the revision of the service's front door, or empty when
	// the service has none.
	FrontDoor string
	// OneShot marks a service whose instances run to completion. An
	// instance that exited 0 on the file's revision is done and stays as it
	// is, and one on another revision is replaced, not rolled out.
	OneShot bool
}

// ObservedContainer is one container of the project as the engine lists it.
type ObservedContainer struct {
	ID      string
	Name    string
	Service string
	Role    string
	Slot    int
	// Revision is the revision label of an instance, or the front door's
	// configuration hash.
	Revision string
	// State is the engine's state: created, running, restarting, exited,
	// paused or dead.
	State   string
	Created time.Time
	// ExitCode is the exit code of an exited container, or -1 when the
	// container has not exited or the engine did not report the code.
	ExitCode int
}

// StepKind is the action of one plan step.
type StepKind string

// The steps of a plan.
const (
	StepCreateFrontDoor StepKind = "create-frontdoor"
	StepRemoveFrontDoor StepKind = "remove-frontdoor"
	StepCreate          StepKind = "create"
	StepStart           StepKind = "start"
	StepRemove          StepKind = "remove"
)

// Step is one action of a plan. Container and ID are empty for a create.
type Step struct {
	Kind      StepKind
	Service   string
	Slot      int
	Container string
	ID        string
	Reason    string
}

func (s Step) String() string {
	target := s.Service
	if s.Kind != StepCreateFrontDoor && s.Kind != StepRemoveFrontDoor {
		target = fmt.Sprintf("%s.%d", s.Service, s.Slot)
	}
	line := string(s.Kind) + " " + target
	if s.Reason != "" {
		line += " (" + s.Reason + ")"
	}
	return line
}

// reasonDuplicate is the reason of a step that removes a surplus
// container of a slot or of a front door.
const reasonDuplicate = "duplicate"

// reasonChanged is the reason of a step that removes a container whose
// configuration differs from the file, where it is not rolled out.
const reasonChanged = "changed"

// Change records instances whose revision differs from the file.
type Change struct {
	Service string
	// Containers are the IDs of the instances on another revision, by slot.
	Containers map[int]string
	Revision   string
}

// Plan is the result of comparing the file with the engine. Steps run in
// order: front doors first, then removals, then creates and starts.
type Plan struct {
	Steps   []Step
	Changed []Change
	// Orphans are services with containers on the engine that are no longer
	// in the file, and that PlanOptions did not ask to remove.
	Orphans []string
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.Steps) == 0 && len(p.Changed) == 0
}

// CreateOnly splits the plan for up --no-start: it keeps the steps that
// create front doors and instances, and returns the others, which would
// start, stop, remove or replace containers, as deferred. A rollout
// becomes deferred too.
func (p Plan) CreateOnly() (Plan, []string) {
	var kept Plan
	var deferred []string
	for _, step := range p.Steps {
		if step.Kind == StepCreate || step.Kind == StepCreateFrontDoor {
			kept.Steps = append(kept.Steps, step)
			continue
		}
		deferred = append(deferred, step.String())
	}
	for _, change := range p.Changed {
		deferred = append(deferred, fmt.Sprintf("roll out %s %v", change.Service, slices.Sorted(maps.Keys(change.Containers))))
	}
	kept.Orphans = p.Orphans
	return kept, deferred
}

// String renders the plan one step per line, for tests and --dry-run.
func (p Plan) String() string {
	var lines []string
	for _, step := range p.Steps {
		lines = append(lines, step.String())
	}
	for _, change := range p.Changed {
		slots := slices.Sorted(maps.Keys(change.Containers))
		lines = append(lines, fmt.Sprintf("changed %s %v -> %s", change.Service, slots, change.Revision))
	}
	for _, orphan := range p.Orphans {
		lines = append(lines, "orphan "+orphan)
	}
	return strings.Join(lines, "\n")
}

// PlanOptions adjust the planner.
type PlanOptions struct {
	// Known lists every service in the file, selected or not. Containers of
	// a known service that is not desired are left alone.
	Known []string
	// RemoveOrphans removes containers of services no longer in the file.
	RemoveOrphans bool
}

// PlanUp compares the desired services with the observed containers and
// returns the steps that converge the engine to the file. It is a pure
// function: it neither calls the engine nor logs.
func PlanUp(desired []DesiredService, observed []ObservedContainer, opts PlanOptions) Plan {
	var plan Plan
	byService := map[string][]ObservedContainer{}
	for _, c := range observed {
		byService[c.Service] = append(byService[c.Service], c)
	}
	var removals, creates []Step
	for _, svc := range slices.SortedFunc(slices.Values(desired), func(a, b DesiredService) int {
		return cmp.Compare(a.Name, b.Name)
	}) {
		containers := byService[svc.Name]
		delete(byService, svc.Name)
		plan.Steps = append(plan.Steps, planFrontDoor(svc, containers)...)
		remove, create, change := planInstances(svc, containers)
		removals = append(removals, remove...)
		creates = append(creates, create...)
		if change != nil {
			plan.Changed = append(plan.Changed, *change)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byService)) {
		if slices.Contains(opts.Known, name) {
			continue
		}
		if !opts.RemoveOrphans {
			plan.Orphans = append(plan.Orphans, name)
			continue
		}
		removals = append(removals, removeAll(byService[name], "orphan")...)
	}
	plan.Steps = append(plan.Steps, removals...)
	plan.Steps = append(plan.Steps, creates...)
	return plan
}

func planFrontDoor(svc DesiredService, containers []ObservedContainer) []Step {
	var doors []ObservedContainer
	for _, c := range containers {
		if c.Role == RoleFrontDoor {
			doors = append(doors, c)
		}
	}
	if svc.FrontDoor == "" {
		return removeAll(doors, "no front door in the file")
	}
	var steps []Step
	keep := -1
	for i, door := range doors {
		if keep < 0 && door.Revision == svc.FrontDoor {
			keep = i
			continue
		}
		reason := reasonDuplicate
		if door.Revision != svc.FrontDoor {
			reason = reasonChanged
		}
		steps = append(steps, removeStep(StepRemoveFrontDoor, door, reason))
	}
	if keep < 0 {
		steps = append(steps, Step{Kind: StepCreateFrontDoor, Service: svc.Name})
	} else if doors[keep].State != "running" {
		steps = append(steps, Step{Kind: StepStart, Service: svc.Name, Slot: -1,
			Container: doors[keep].Name, ID: doors[keep].ID, Reason: "front door " + doors[keep].State})
	}
	return steps
}

// planInstances returns the removals and creates for one service's
// instances, and the instances on another revision.
func planInstances(svc DesiredService, containers []ObservedContainer) (remove, create []Step, change *Change) {
	bySlot := map[int][]ObservedContainer{}
	for _, c := range containers {
		switch c.Role {
		case RoleInstance:
			bySlot[c.Slot] = append(bySlot[c.Slot], c)
		case RoleProbe:
			remove = append(remove, removeStep(StepRemove, c, "leftover probe"))
		}
	}
	for slot := range svc.Count {
		candidates := bySlot[slot]
		delete(bySlot, slot)
		if len(candidates) == 0 {
			create = append(create, Step{Kind: StepCreate, Service: svc.Name, Slot: slot})
			continue
		}
		keep, extras := pickInstance(candidates, svc.Revision)
		remove = append(remove, removeAll(extras, reasonDuplicate)...)
		if keep.Revision != svc.Revision && svc.OneShot {
			remove = append(remove, removeStep(StepRemove, keep, reasonChanged))
			create = append(create, Step{Kind: StepCreate, Service: svc.Name, Slot: slot})
			continue
		}
		if keep.Revision != svc.Revision {
			if change == nil {
				change = &Change{Service: svc.Name, Revision: svc.Revision, Containers: map[int]string{}}
			}
			change.Containers[slot] = keep.ID
			continue
		}
		completed := svc.OneShot && keep.State == "exited" && keep.ExitCode == 0
		if (keep.State == "created" || keep.State == "exited") && !completed {
			create = append(create, Step{Kind: StepStart, Service: svc.Name, Slot: slot,
				Container: keep.Name, ID: keep.ID, Reason: keep.State})
		}
	}
	for _, slot := range slices.Backward(slices.Sorted(maps.Keys(bySlot))) {
		remove = append(remove, removeAll(bySlot[slot], "scale down")...)
	}
	return remove, create, change
}

// pickInstance chooses which of several containers of one slot to keep:
// the desired revision first, then a running one, then the newest. Several
// containers share a slot only after an interrupted run.
func pickInstance(candidates []ObservedContainer, revision string) (ObservedContainer, []ObservedContainer) {
	sorted := slices.SortedFunc(slices.Values(candidates), func(a, b ObservedContainer) int {
		return cmp.Or(
			compareBool(a.Revision == revision, b.Revision == revision),
			compareBool(a.State == "running", b.State == "running"),
			b.Created.Compare(a.Created),
			cmp.Compare(a.ID, b.ID),
		)
	})
	return sorted[0], sorted[1:]
}

// compareBool orders true before false.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	default:
		return 1
	}
}

func removeAll(containers []ObservedContainer, reason string) []Step {
	var steps []Step
	for _, c := range containers {
		kind := StepRemove
		if c.Role == RoleFrontDoor {
			kind = StepRemoveFrontDoor
		}
		steps = append(steps, removeStep(kind, c, reason))
	}
	return steps
}

func removeStep(kind StepKind, c ObservedContainer, reason string) Step {
	return Step{Kind: kind, Service: c.Service, Slot: c.Slot, Container: c.Name, ID: c.ID, Reason: reason}
}
