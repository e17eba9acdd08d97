package orchestrator

import (
	"errors"
	"slices"
	"strings"
	"testing"

	composetypes "github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"

	"github.com/clusterctl/clusterctl/compose"
)

func testProject(instances int, proxy bool) *compose.Project {
	svc := compose.Service{
		Name: "web",
		Config: composetypes.ServiceConfig{Name: "web", ContainerSpec: composetypes.ContainerSpec{Image: "app:v1"},
			WorkloadSpec: composetypes.WorkloadSpec{HealthCheck: &composetypes.HealthCheckConfig{Test: []string{"CMD", "/app", "-check"}}}},
		Instances: compose.InstanceCount{Fixed: instances},
		OTel:      compose.OTel{Enabled: true},
	}
	if proxy {
		svc.Proxy = &compose.Proxy{Mode: "http", Ports: []compose.ProxyPort{{Target: 8080, Protocol: "tcp", HostIP: "127.0.0.1", HostPort: "8080"}}}
	}
	return &compose.Project{
		Name:     "shop",
		Model:    &composetypes.Project{Name: "shop", Networks: composetypes.Networks{"default": {Name: "shop_default"}}},
		Services: []compose.Service{svc},
	}
}

func newTestOrchestrator(engine *fakeEngine) (*Orchestrator, *[]Event) {
	var events []Event
	var report Reporter = func(e Event) { events = append(events, e) }
	return &Orchestrator{Engine: engine, ToolImage: "clusterctl-tool:any", Report: syncReporter(report)}, &events
}

func syncReporter(r Reporter) Reporter {
	ch := make(chan struct{}, 1)
	return func(e Event) {
		ch <- struct{}{}
		r(e)
		<-ch
	}
}

func TestUp_FirstStartCreatesInstancesAndFrontDoor(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	if err := o.Up(t.Context(), testProject(3, true), UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	names := engine.names()
	slices.Sort(names)
	if len(names) != 4 {
		t.Fatalf("containers = %v, want 3 instances and a front door", names)
	}
	if names[3] != "shop-web-frontdoor" {
		t.Errorf("front door name = %q, want shop-web-frontdoor", names[3])
	}
	for i, name := range names[:3] {
		if !strings.HasPrefix(name, "shop-web-"+string(rune('0'+i))+"-") {
			t.Errorf("instance name %q does not start with shop-web-%d-", name, i)
		}
	}
	var pushes int
	for _, cmd := range engine.execs {
		if strings.Contains(cmd, "frontdoor members") {
			pushes++
		}
	}
	if pushes == 0 {
		t.Error("the front door never got a membership")
	}
}

func TestUp_InstanceLabelsAndPorts(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	if err := o.Up(t.Context(), testProject(2, true), UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	for _, c := range engine.containers {
		if c.config.Labels[LabelRole] != RoleInstance {
			continue
		}
		for _, key := range []string{LabelProject, LabelService, LabelInstance, LabelRevision} {
			if c.config.Labels[key] == "" {
				t.Errorf("%s has no %s label", c.name, key)
			}
		}
		if len(c.host.PortBindings) != 0 {
			t.Errorf("%s publishes ports %v although the front door owns them", c.name, c.host.PortBindings)
		}
		if slices.Contains(c.networks, "") {
			t.Errorf("%s is on an unnamed network", c.name)
		}
	}
}

func TestUp_NoChangeIsNoOp(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, events := newTestOrchestrator(engine)
	p := testProject(2, false)
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("first Up: %v", err)
	}
	before := engine.nextID
	*events = nil
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if engine.nextID != before {
		t.Errorf("second Up created %d objects, want none", engine.nextID-before)
	}
	if len(*events) != 1 || (*events)[0].Kind != EventUpToDate {
		t.Errorf("events = %+v, want one up-to-date event", *events)
	}
}

func TestUp_FailureRemovesWhatItCreated(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	engine.failStart = func(name string) error {
		if strings.HasPrefix(name, "shop-web-2-") {
			return errors.New("start refused")
		}
		return nil
	}
	o, _ := newTestOrchestrator(engine)
	err := o.Up(t.Context(), testProject(3, true), UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "start refused") {
		t.Fatalf("Up error = %v, want the start failure", err)
	}
	if names := engine.names(); len(names) != 0 {
		t.Errorf("containers left after a failed first up: %v", names)
	}
	if len(engine.networks) != 0 {
		t.Errorf("networks left after a failed first up: %v", engine.networks)
	}
	for _, r := range engine.removed {
		if !r.anonymousVolumes {
			t.Errorf("cleanup removed %s without its anonymous volumes", r.name)
		}
	}
}

func TestUp_FailedRolloutRemovesNewAnonymousVolumes(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(2, true)
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("first Up: %v", err)
	}
	before := engine.names()
	engine.failStart = func(name string) error {
		if !slices.Contains(before, name) {
			return errors.New("start refused")
		}
		return nil
	}
	value := "v2"
	p.Services[0].Config.Environment = composetypes.MappingWithEquals{"VERSION": &value}

	if err := o.Up(t.Context(), p, UpOptions{}); err == nil {
		t.Fatal("Up succeeded although the new instance failed to start")
	}
	if len(engine.removed) == 0 {
		t.Fatal("the failed rollout removed no container")
	}
	for _, r := range engine.removed {
		if slices.Contains(before, r.name) {
			t.Errorf("the failed rollout removed the old instance %s", r.name)
		}
		if !r.anonymousVolumes {
			t.Errorf("the failed rollout removed %s without its anonymous volumes", r.name)
		}
	}
}

func TestUp_FailedScaleUpKeepsExistingInstances(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	if err := o.Up(t.Context(), testProject(2, false), UpOptions{}); err != nil {
		t.Fatalf("first Up: %v", err)
	}
	engine.failStart = func(name string) error {
		if strings.HasPrefix(name, "shop-web-3-") {
			return errors.New("start refused")
		}
		return nil
	}
	if err := o.Up(t.Context(), testProject(4, false), UpOptions{}); err == nil {
		t.Fatal("Up succeeded although an instance failed to start")
	}
	names := engine.names()
	slices.Sort(names)
	if len(names) != 2 || !strings.HasPrefix(names[0], "shop-web-0-") || !strings.HasPrefix(names[1], "shop-web-1-") {
		t.Errorf("containers after a failed scale-up = %v, want the two original instances", names)
	}
	if len(engine.networks) != 1 {
		t.Errorf("networks = %v, want the project network kept", engine.networks)
	}
}

func TestUp_ChangedConfigurationRollsOut(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, events := newTestOrchestrator(engine)
	p := testProject(2, true)
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("first Up: %v", err)
	}
	before := map[string]bool{}
	for _, name := range engine.names() {
		before[name] = true
	}
	value := "bar"
	p.Services[0].Config.Environment = composetypes.MappingWithEquals{"FOO": &value}
	*events = nil
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up after a change: %v", err)
	}
	revisions := map[string]bool{}
	instances := 0
	for _, c := range engine.containers {
		if c.config.Labels[LabelRole] != RoleInstance {
			continue
		}
		instances++
		revisions[c.config.Labels[LabelRevision]] = true
		if before[c.name] {
			t.Errorf("old instance %s is still there after the rollout", c.name)
		}
	}
	if instances != 2 || len(revisions) != 1 {
		t.Errorf("after the rollout: %d instances on revisions %v, want 2 on one revision", instances, revisions)
	}
	var described bool
	for _, e := range *events {
		if e.Kind == EventInfo && strings.Contains(e.Message, "+FOO") {
			described = true
		}
	}
	if !described {
		t.Error("no event names the added variable")
	}
}

// TestReadyBackend_StoppedSinceListed covers an old instance that a killed
// command left stopping: listed as running, stopped at inspection. It has no
// rotation entry, and it is no error.
func TestReadyBackend_StoppedSinceListed(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	engine.containers["c1"] = &fakeContainer{id: "c1", name: "shop-web-0-aaaaaa", networks: []string{"shop_default"}}

	b, state, _, err := o.readyBackend(t.Context(), ObservedContainer{ID: "c1", Name: "shop-web-0-aaaaaa", State: "running"})
	if err != nil {
		t.Fatalf("readyBackend of a stopped instance: %v", err)
	}
	if state != "" || b.ID != "" {
		t.Errorf("readyBackend of a stopped instance = %+v, %q; want no entry and no state", b, state)
	}
	_, state, _, err = o.readyBackend(t.Context(), ObservedContainer{ID: "gone", Name: "shop-web-1-bbbbbb", State: "running"})
	if err != nil || state != "" {
		t.Errorf("readyBackend of a removed instance = %q, %v; want no state and no error", state, err)
	}
}

func TestDescribeChange_MixedRevisions(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(2, false)
	tmpl, _, err := NewTemplate(p, &p.Services[0], "sha256:img", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	add := func(revision string) string {
		engine.mu.Lock()
		defer engine.mu.Unlock()
		id := engine.id("ctr")
		engine.containers[id] = &fakeContainer{id: id, name: "shop-web-" + id, running: true,
			config: container.Config{Labels: map[string]string{LabelRevision: revision, LabelSpec: tmpl.Spec()}}}
		return id
	}
	cases := []struct {
		name      string
		revisions []string
		want      string
	}{
		{"one revision", []string{"aaa", "aaa"}, "instances [0 1] change from revision aaa to ccc"},
		{"two revisions", []string{"aaa", "bbb"}, "instances [0 1] change from revisions aaa (slots [0]), bbb (slots [1]) to ccc"},
		{"same revision", []string{"ccc", "ccc"}, "are replaced by new containers of the same revision ccc"},
	}
	for _, tc := range cases {
		change := Change{Service: "web", Revision: "ccc", Containers: map[int]string{}}
		var observed []ObservedContainer
		for slot, rev := range tc.revisions {
			id := add(rev)
			change.Containers[slot] = id
			observed = append(observed, ObservedContainer{ID: id, Service: "web", Role: RoleInstance, Slot: slot, Revision: rev})
		}
		if got := o.describeChange(t.Context(), tmpl, change, observed); !strings.Contains(got, tc.want) {
			t.Errorf("%s: description = %q, want it to contain %q", tc.name, got, tc.want)
		}
	}
}
