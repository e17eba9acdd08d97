package orchestrator

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	composetypes "github.com/compose-spec/compose-go/v2/types"

	"github.com/clusterctl/clusterctl/compose"
	"github.com/clusterctl/clusterctl/internal/frontdoor"
)

// instanceSlots returns the slots of web's instances, sorted, and the
// revisions they run.
func instanceSlots(t *testing.T, f *fakeEngine) ([]int, map[string]bool) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var slots []int
	revisions := map[string]bool{}
	for _, c := range f.containers {
		if c.config.Labels[LabelRole] != RoleInstance {
			continue
		}
		slot, err := strconv.Atoi(c.config.Labels[LabelInstance])
		if err != nil {
			t.Fatalf("instance %s has slot label %q", c.name, c.config.Labels[LabelInstance])
		}
		slots = append(slots, slot)
		revisions[c.config.Labels[LabelRevision]] = true
	}
	slices.Sort(slots)
	return slots, revisions
}

func TestScale_Counts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		count compose.InstanceCount
		want  []int
	}{
		{name: "up", count: compose.InstanceCount{Fixed: 5}, want: []int{0, 1, 2, 3, 4}},
		{name: "down", count: compose.InstanceCount{Fixed: 1}, want: []int{0}},
		{name: "zero", count: compose.InstanceCount{Fixed: 0}, want: nil},
		{name: "max", count: compose.InstanceCount{Max: true}, want: []int{0, 1, 2, 3}},
		{name: "cpus minus one", count: compose.InstanceCount{Fixed: -1}, want: []int{0, 1, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			o, _ := newTestOrchestrator(engine)
			p := testProject(2, true)
			if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
				t.Fatalf("Up: %v", err)
			}
			if err := o.Scale(t.Context(), p, []ScaleTarget{{Service: "web", Count: tc.count}}, UpOptions{}); err != nil {
				t.Fatalf("Scale: %v", err)
			}
			slots, _ := instanceSlots(t, engine)
			if !slices.Equal(slots, tc.want) {
				t.Errorf("slots after scale to %s = %v, want %v", tc.count, slots, tc.want)
			}
		})
	}
}

func TestScale_KeepsRunningRevision(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(2, true)
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	_, before := instanceSlots(t, engine)

	value := "changed"
	p.Services[0].Config.Environment = composetypes.MappingWithEquals{"FOO": &value}
	p.Services[0].Proxy.Ports[0].HostPort = "9090"
	if err := o.Scale(t.Context(), p, []ScaleTarget{{Service: "web", Count: compose.InstanceCount{Fixed: 3}}}, UpOptions{}); err != nil {
		t.Fatalf("Scale: %v", err)
	}

	slots, after := instanceSlots(t, engine)
	if !slices.Equal(slots, []int{0, 1, 2}) {
		t.Errorf("slots = %v, want 0 1 2", slots)
	}
	if len(after) != 1 || !after[firstKey(before)] {
		t.Errorf("revisions after scale = %v, want only the running %v", after, before)
	}
	doors := 0
	for _, name := range engine.names() {
		if name == "shop-web-frontdoor" {
			doors++
		}
	}
	if doors != 1 {
		t.Errorf("%d front doors after scale, want the running one kept", doors)
	}
}

func firstKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

func TestScale_CurrentCountIsNoOp(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, events := newTestOrchestrator(engine)
	p := testProject(2, true)
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	before := engine.nextID
	execs := len(engine.execs)
	*events = nil
	if err := o.Scale(t.Context(), p, []ScaleTarget{{Service: "web", Count: compose.InstanceCount{Fixed: 2}}}, UpOptions{}); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	if engine.nextID != before || len(engine.execs) != execs {
		t.Errorf("scale to the current count created %d objects and ran %d execs, want none",
			engine.nextID-before, len(engine.execs)-execs)
	}
	if len(*events) != 1 || (*events)[0].Kind != EventUpToDate || !strings.Contains((*events)[0].Message, "already runs 2 instances") {
		t.Errorf("events = %+v, want one up-to-date event that names the count", *events)
	}
}

func TestScale_DownLeavesRotationFirst(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(3, true)
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	pushes := len(engine.execCmds)
	if err := o.Scale(t.Context(), p, []ScaleTarget{{Service: "web", Count: compose.InstanceCount{Fixed: 1}}}, UpOptions{}); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	var first []string
	for _, cmd := range engine.execCmds[pushes:] {
		if slices.Contains(cmd, "members") {
			first = cmd
			break
		}
	}
	if first == nil {
		t.Fatal("scale down pushed no rotation to the front door")
	}
	var membership frontdoor.Membership
	if err := json.Unmarshal([]byte(first[len(first)-1]), &membership); err != nil {
		t.Fatalf("membership push %q: %v", first, err)
	}
	if len(membership.Backends) != 1 || membership.Backends[0].Slot != 0 {
		t.Errorf("first push after scale down = %+v, want only slot 0 in rotation", membership.Backends)
	}
}

func TestScale_UnknownService(t *testing.T) {
	t.Parallel()
	o, _ := newTestOrchestrator(newFakeEngine())
	err := o.Scale(t.Context(), testProject(1, false), []ScaleTarget{{Service: "api", Count: compose.InstanceCount{Fixed: 2}}}, UpOptions{})
	if err == nil || !strings.Contains(err.Error(), `no service "api"`) {
		t.Errorf("error = %v, want one that names the unknown service", err)
	}
}

// TestScale_ProjectNotUp scales a service of a project that has no
// container and no network yet: the instances resolve from the file, so
// the file's network must be created for them, as up creates it.
func TestScale_ProjectNotUp(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(1, true)
	if err := o.Scale(t.Context(), p, []ScaleTarget{{Service: "web", Count: compose.InstanceCount{Fixed: 2}}}, UpOptions{}); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	slots, _ := instanceSlots(t, engine)
	if !slices.Equal(slots, []int{0, 1}) {
		t.Errorf("slots after scale = %v, want [0 1]", slots)
	}
	engine.mu.Lock()
	defer engine.mu.Unlock()
	if _, ok := engine.networks["shop_default"]; !ok {
		t.Errorf("network shop_default was not created; networks: %v", engine.networks)
	}
}

func TestRestart_AfterScaleReplacesEverySlot(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(2, true)
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if err := o.Scale(t.Context(), p, []ScaleTarget{{Service: "web", Count: compose.InstanceCount{Fixed: 3}}}, UpOptions{}); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	before, err := o.PS(t.Context(), "shop", nil)
	if err != nil || len(before) != 3 {
		t.Fatalf("PS after scale = %+v, %v; want 3 rows", before, err)
	}

	// Restart reads the file again, which still sets 2 instances.
	if err := o.Restart(t.Context(), testProject(2, true), "web", UpOptions{}); err != nil {
		t.Fatalf("Restart: %v", err)
	}

	after, err := o.PS(t.Context(), "shop", nil)
	if err != nil {
		t.Fatalf("PS: %v", err)
	}
	if len(after) != 3 {
		t.Fatalf("rows after restart = %+v, want 3 instances", after)
	}
	for i := range after {
		if after[i].ID == before[i].ID {
			t.Errorf("slot %d kept container %s, want a new one", after[i].Slot, after[i].Name)
		}
	}
}
