package orchestrator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func instance(service string, slot int, revision, state string) ObservedContainer {
	return ObservedContainer{
		ID: fmt.Sprintf("%s-%d-%s-%s", service, slot, revision, state), Name: fmt.Sprintf("p-%s-%d", service, slot),
		Service: service, Role: RoleInstance, Slot: slot, Revision: revision, State: state,
		Created: time.Unix(int64(slot), 0),
	}
}

func frontDoor(service, revision string) ObservedContainer {
	return ObservedContainer{ID: service + "-fd", Name: "p-" + service + "-frontdoor", Service: service,
		Role: RoleFrontDoor, Slot: -1, Revision: revision, State: "running"}
}

func running(service string, count int, revision string) []ObservedContainer {
	var out []ObservedContainer
	for slot := range count {
		out = append(out, instance(service, slot, revision, "running"))
	}
	return out
}

func TestPlanUp(t *testing.T) {
	t.Parallel()
	web := DesiredService{Name: "web", Count: 3, Revision: "r1", FrontDoor: "fd1"}
	cases := []struct {
		name     string
		desired  []DesiredService
		observed []ObservedContainer
		opts     PlanOptions
		want     string
	}{
		{
			name:    "first start",
			desired: []DesiredService{web},
			want:    "create-frontdoor web\ncreate web.0\ncreate web.1\ncreate web.2",
		},
		{
			name:     "no-op",
			desired:  []DesiredService{web},
			observed: append(running("web", 3, "r1"), frontDoor("web", "fd1")),
			want:     "",
		},
		{
			name:     "scale up",
			desired:  []DesiredService{{Name: "web", Count: 5, Revision: "r1", FrontDoor: "fd1"}},
			observed: append(running("web", 3, "r1"), frontDoor("web", "fd1")),
			want:     "create web.3\ncreate web.4",
		},
		{
			name:     "scale down removes the highest slots first",
			desired:  []DesiredService{{Name: "web", Count: 1, Revision: "r1", FrontDoor: "fd1"}},
			observed: append(running("web", 3, "r1"), frontDoor("web", "fd1")),
			want:     "remove web.2 (scale down)\nremove web.1 (scale down)",
		},
		{
			name:     "changed revision",
			desired:  []DesiredService{web},
			observed: append(running("web", 3, "r0"), frontDoor("web", "fd1")),
			want:     "changed web [0 1 2] -> r1",
		},
		{
			name:     "missing middle slot is refilled",
			desired:  []DesiredService{web},
			observed: []ObservedContainer{frontDoor("web", "fd1"), instance("web", 0, "r1", "running"), instance("web", 2, "r1", "running")},
			want:     "create web.1",
		},
		{
			name:    "duplicate slot keeps the desired revision",
			desired: []DesiredService{{Name: "web", Count: 1, Revision: "r1"}},
			observed: []ObservedContainer{
				instance("web", 0, "r0", "running"), instance("web", 0, "r1", "running"),
			},
			want: "remove web.0 (duplicate)",
		},
		{
			name:     "exited instance is started",
			desired:  []DesiredService{{Name: "web", Count: 1, Revision: "r1"}},
			observed: []ObservedContainer{instance("web", 0, "r1", "exited")},
			want:     "start web.0 (exited)",
		},
		{
			name:     "changed front door is recreated",
			desired:  []DesiredService{web},
			observed: append(running("web", 3, "r1"), frontDoor("web", "fd0")),
			want:     "remove-frontdoor web (changed)\ncreate-frontdoor web",
		},
		{
			name:     "front door no longer wanted",
			desired:  []DesiredService{{Name: "web", Count: 3, Revision: "r1"}},
			observed: append(running("web", 3, "r1"), frontDoor("web", "fd1")),
			want:     "remove-frontdoor web (no front door in the file)",
		},
		{
			name:     "orphan kept without the option",
			desired:  []DesiredService{{Name: "web", Count: 1, Revision: "r1"}},
			observed: append(running("web", 1, "r1"), running("old", 1, "r9")...),
			want:     "orphan old",
		},
		{
			name:     "orphan removed with the option",
			desired:  []DesiredService{{Name: "web", Count: 1, Revision: "r1"}},
			observed: append(running("web", 1, "r1"), running("old", 1, "r9")...),
			opts:     PlanOptions{RemoveOrphans: true},
			want:     "remove old.0 (orphan)",
		},
		{
			name:     "unselected service is left alone",
			desired:  []DesiredService{{Name: "web", Count: 1, Revision: "r1"}},
			observed: append(running("web", 1, "r1"), running("db", 1, "r9")...),
			opts:     PlanOptions{Known: []string{"web", "db"}, RemoveOrphans: true},
			want:     "",
		},
		{
			name:     "leftover probe is removed",
			desired:  []DesiredService{{Name: "web", Count: 1, Revision: "r1"}},
			observed: append(running("web", 1, "r1"), ObservedContainer{ID: "p", Name: "probe", Service: "web", Role: RoleProbe, Slot: 0}),
			want:     "remove web.0 (leftover probe)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan := PlanUp(tc.desired, tc.observed, tc.opts)
			if got := plan.String(); got != tc.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestPlanUp_Converges checks, for random observed states, that applying a
// plan's steps yields exactly one instance per slot 0..count-1 and nothing
// else, so a second plan is empty.
func TestPlanUp_Converges(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		count := rapid.IntRange(0, 6).Draw(t, "count")
		desired := []DesiredService{{Name: "web", Count: count, Revision: "r1"}}
		var observed []ObservedContainer
		for i := range rapid.IntRange(0, 10).Draw(t, "observed") {
			slot := rapid.IntRange(0, 8).Draw(t, "slot")
			state := rapid.SampledFrom([]string{"running", "exited", "created"}).Draw(t, "state")
			c := instance("web", slot, "r1", state)
			c.ID = fmt.Sprintf("%s-%d", c.ID, i)
			observed = append(observed, c)
		}
		plan := PlanUp(desired, observed, PlanOptions{})
		after := apply(observed, plan)
		perSlot := map[int]int{}
		for _, c := range after {
			perSlot[c.Slot]++
		}
		for slot := range count {
			if perSlot[slot] != 1 {
				t.Fatalf("slot %d has %d instances after the plan\n%s", slot, perSlot[slot], plan)
			}
		}
		if len(after) != count {
			t.Fatalf("%d instances after the plan, want %d\n%s", len(after), count, plan)
		}
		if again := PlanUp(desired, after, PlanOptions{}); !again.Empty() {
			t.Fatalf("second plan is not empty:\n%s", again)
		}
	})
}

// apply simulates a plan's steps on an observed state.
func apply(observed []ObservedContainer, plan Plan) []ObservedContainer {
	removed := map[string]bool{}
	started := map[string]bool{}
	var added []ObservedContainer
	for _, step := range plan.Steps {
		switch step.Kind {
		case StepRemove:
			removed[step.ID] = true
		case StepStart:
			started[step.ID] = true
		case StepCreate:
			added = append(added, instance(step.Service, step.Slot, "r1", "running"))
		}
	}
	var out []ObservedContainer
	for _, c := range observed {
		if removed[c.ID] {
			continue
		}
		if started[c.ID] {
			c.State = "running"
		}
		out = append(out, c)
	}
	return append(out, added...)
}

func TestDiffSpecs(t *testing.T) {
	t.Parallel()
	old := `{"image_id":"sha256:a","env":{"Vars":["A=1","B=2","SECRET=x"]},"config":{"Cmd":["run"]},"host":{}}`
	new := `{"image_id":"sha256:b","env":{"Vars":["A=1","C=3","SECRET=y"]},"config":{"Cmd":["serve"]},"host":{}}`
	got := strings.Join(DiffSpecs(old, new), "; ")
	want := "environment (+C ~SECRET -B); config.Cmd; image_id"
	if got != want {
		t.Errorf("DiffSpecs = %q, want %q", got, want)
	}
	if strings.Contains(got, "x") && strings.Contains(got, "=y") {
		t.Errorf("DiffSpecs leaks a value: %q", got)
	}
}
