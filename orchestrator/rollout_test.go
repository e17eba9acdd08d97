package orchestrator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	composetypes "github.com/compose-spec/compose-go/v2/types"
	"pgregory.net/rapid"

	"github.com/clusterctl/clusterctl/internal/frontdoor"
)

func TestBatches(t *testing.T) {
	t.Parallel()
	cases := []struct {
		slots       []int
		parallelism int
		want        string
	}{
		{[]int{3, 1, 0, 2}, 1, "[[0] [1] [2] [3]]"},
		{[]int{3, 1, 0, 2}, 2, "[[0 1] [2 3]]"},
		{[]int{0, 1, 2}, 2, "[[0 1] [2]]"},
		{[]int{0, 1}, 5, "[[0 1]]"},
		{nil, 1, "[]"},
		{[]int{4}, 0, "[[4]]"},
	}
	for _, tc := range cases {
		got := fmt.Sprint(Batches(tc.slots, tc.parallelism))
		if tc.want == "[]" && len(Batches(tc.slots, tc.parallelism)) == 0 {
			continue
		}
		if got != tc.want {
			t.Errorf("Batches(%v, %d) = %s, want %s", tc.slots, tc.parallelism, got, tc.want)
		}
	}
}

// TestRollout_SafetyProperties runs rollouts against the fake engine with
// random instance counts and parallelism, and checks the two safety rules
// on every membership the front door receives and every container change:
// no slot is ever without an instance in rotation, never more than
// parallelism slots have an old and a new instance at once, and no
// instance is stopped while it is in rotation. An old instance that left
// the rotation and is stopping in the background no longer counts for its
// slot.
func TestRollout_SafetyProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		count := rapid.IntRange(1, 6).Draw(rt, "count")
		parallelism := rapid.IntRange(1, count).Draw(rt, "parallelism")
		engine := newFakeEngine()
		o, _ := newTestOrchestrator(engine)
		p := testProject(count, true)
		if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
			rt.Fatalf("first Up: %v", err)
		}
		engine.mu.Lock()
		engine.execCmds, engine.execs, engine.maxBusySlots = nil, nil, 0
		engine.mu.Unlock()

		value := "v2"
		p.Services[0].Config.Environment = composetypes.MappingWithEquals{"VERSION": &value}
		p.Services[0].Config.Deploy = &composetypes.DeployConfig{UpdateConfig: &composetypes.UpdateConfig{
			Parallelism: ptr(uint64(parallelism)),
		}}
		if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
			rt.Fatalf("rollout Up: %v", err)
		}
		for i, members := range memberships(rt, engine) {
			slots := map[int]bool{}
			for _, b := range members.Backends {
				slots[b.Slot] = true
			}
			for slot := range count {
				if !slots[slot] {
					rt.Fatalf("membership %d leaves slot %d without an instance: %+v", i, slot, members.Backends)
				}
			}
		}
		if engine.maxBusySlots > parallelism {
			rt.Fatalf("%d slots changed at once, parallelism is %d", engine.maxBusySlots, parallelism)
		}
		streams := 0
		for _, cmd := range engine.execs {
			if strings.Contains(cmd, "members --stream") {
				streams++
			}
		}
		if streams != 1 {
			rt.Fatalf("rollout opened %d member streams, want 1 for its front door", streams)
		}
		if len(engine.stoppedServing) > 0 {
			rt.Fatalf("instances stopped while in rotation: %v", engine.stoppedServing)
		}
	})
}

func memberships(t interface{ Fatalf(string, ...any) }, engine *fakeEngine) []frontdoor.Membership {
	engine.mu.Lock()
	defer engine.mu.Unlock()
	var out []frontdoor.Membership
	for _, cmd := range engine.execCmds {
		if !slices.Contains(cmd, "members") {
			continue
		}
		var m frontdoor.Membership
		if err := json.Unmarshal([]byte(cmd[len(cmd)-1]), &m); err != nil {
			t.Fatalf("membership is not JSON: %v", err)
		}
		out = append(out, m)
	}
	return out
}

func TestUndo_NothingRunning(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(1, false)
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if err := o.Down(t.Context(), "shop", DownOptions{}); err != nil {
		t.Fatalf("Down: %v", err)
	}

	err := o.Undo(t.Context(), p, "web", 0, UpOptions{})

	if err == nil || !strings.Contains(err.Error(), "nothing to undo") {
		t.Errorf("Undo after down = %v, want an error that says there is nothing to undo", err)
	}
	if names := engine.names(); len(names) != 0 {
		t.Errorf("containers after the failed undo = %v, want none", names)
	}
}

func TestRollout_ToleratedFailuresKeepHistory(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, events := newTestOrchestrator(engine)
	p := testProject(2, true)
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	before, err := o.History(t.Context(), "shop", "web")
	if err != nil || len(before) != 1 {
		t.Fatalf("History = %+v, %v; want one revision", before, err)
	}

	// Every instance created from here on exits at once.
	existing := map[string]bool{}
	for _, name := range engine.names() {
		existing[name] = true
	}
	engine.mu.Lock()
	engine.exitOnStart = func(name string) (int, bool) { return 3, !existing[name] }
	engine.mu.Unlock()
	value := "v2"
	p.Services[0].Config.Environment = composetypes.MappingWithEquals{"VERSION": &value}
	p.Services[0].Config.Deploy = &composetypes.DeployConfig{UpdateConfig: &composetypes.UpdateConfig{
		MaxFailureRatio: 1,
	}}
	*events = nil
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("rollout Up with max_failure_ratio 1: %v", err)
	}

	after, err := o.History(t.Context(), "shop", "web")
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if len(after) != 1 || after[0].Revision != before[0].Revision {
		t.Errorf("history = %+v, want only the revision that serves", after)
	}
	warned := false
	for _, e := range *events {
		warned = warned || (e.Kind == EventWarning && strings.Contains(e.Message, "2 slots of 2 failed"))
	}
	if !warned {
		t.Errorf("events = %+v, want a warning that 2 slots of 2 failed", *events)
	}
}
