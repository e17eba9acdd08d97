package orchestrator

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	composetypes "github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/clusterctl/clusterctl/compose"
	"github.com/clusterctl/clusterctl/internal/frontdoor"
)

// serviceOf returns a service of image app:v1 with a healthcheck and the
// given instance count, changed by mods.
func serviceOf(name string, instances int, mods ...func(*compose.Service)) compose.Service {
	svc := compose.Service{
		Name: name,
		Config: composetypes.ServiceConfig{Name: name, ContainerSpec: composetypes.ContainerSpec{Image: "app:v1"},
			WorkloadSpec: composetypes.WorkloadSpec{HealthCheck: &composetypes.HealthCheckConfig{Test: []string{"CMD", "/app", "-check"}}}},
		Instances: compose.InstanceCount{Fixed: instances},
		OTel:      compose.OTel{Enabled: true},
	}
	for _, mod := range mods {
		mod(&svc)
	}
	return svc
}

// dependsOn adds a depends_on entry.
func dependsOn(service, condition string, mods ...func(*composetypes.ServiceDependency)) func(*compose.Service) {
	return func(svc *compose.Service) {
		if svc.Config.DependsOn == nil {
			svc.Config.DependsOn = composetypes.DependsOnConfig{}
		}
		entry := composetypes.ServiceDependency{Condition: condition, Required: true}
		for _, mod := range mods {
			mod(&entry)
		}
		svc.Config.DependsOn[service] = entry
	}
}

// oneShot makes a service run to completion, as compose.Load does for the
// target of service_completed_successfully.
func oneShot(svc *compose.Service) {
	svc.OneShot = true
	svc.Config.Restart = "no"
	svc.Config.HealthCheck = nil
}

// projectOf returns project shop with the services, sorted as compose.Load
// sorts them, on the default network.
func projectOf(services ...compose.Service) *compose.Project {
	slices.SortFunc(services, func(a, b compose.Service) int { return strings.Compare(a.Name, b.Name) })
	model := &composetypes.Project{Name: "shop", Networks: composetypes.Networks{"default": {Name: "shop_default"}},
		Volumes: composetypes.Volumes{}, Services: composetypes.Services{}}
	for _, svc := range services {
		model.Services[svc.Name] = svc.Config
	}
	return &compose.Project{Name: "shop", WorkingDir: "/nonexistent", Model: model, Services: services}
}

// startIndex returns the position of the first start of a container whose
// name starts with prefix, or -1.
func startIndex(starts []string, prefix string) int {
	return slices.IndexFunc(starts, func(name string) bool { return strings.HasPrefix(name, prefix) })
}

// lastStartIndex returns the position of the last start of a container
// whose name starts with prefix, or -1.
func lastStartIndex(starts []string, prefix string) int {
	last := -1
	for i, name := range starts {
		if strings.HasPrefix(name, prefix) {
			last = i
		}
	}
	return last
}

func requireErrorContains(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", wants)
	}
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}

func hasEvent(events []Event, kind EventKind, service, text string) bool {
	return slices.ContainsFunc(events, func(e Event) bool {
		return e.Kind == kind && e.Service == service && strings.Contains(e.Message, text)
	})
}

func TestUp_NetworkSettings(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	ipv6 := true
	p := projectOf(serviceOf("web", 1, func(svc *compose.Service) {
		svc.Config.Networks = map[string]*composetypes.ServiceNetworkConfig{"backend": nil}
	}))
	p.Model.Networks["backend"] = composetypes.NetworkConfig{
		Name: "shop_backend", Driver: "bridge", DriverOpts: composetypes.Options{"com.docker.network.bridge.enable_icc": "true"},
		Internal: true, Attachable: true, EnableIPv6: &ipv6, Labels: composetypes.Labels{"tier": "back"},
		Ipam: composetypes.IPAMConfig{Driver: "default", Options: composetypes.Options{"opt": "1"}, Config: []*composetypes.IPAMPool{{
			Subnet: "10.99.0.0/24", IPRange: "10.99.0.128/25", AuxiliaryAddresses: composetypes.Mapping{"reserved": "10.99.0.5"},
		}}},
	}
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}

	got, ok := engine.netOpts["shop_backend"]
	if !ok {
		t.Fatalf("network shop_backend not created; networks: %v", engine.networks)
	}
	if got.Driver != "bridge" || !got.Internal || !got.Attachable || got.EnableIPv6 == nil || !*got.EnableIPv6 {
		t.Errorf("network options = %+v, want bridge, internal, attachable, IPv6", got)
	}
	if got.Options["com.docker.network.bridge.enable_icc"] != "true" {
		t.Errorf("driver options = %v, want the file's driver_opts", got.Options)
	}
	wantIPAM := &network.IPAM{Driver: "default", Options: map[string]string{"opt": "1"}, Config: []network.IPAMConfig{{
		Subnet: "10.99.0.0/24", IPRange: "10.99.0.128/25", AuxAddress: map[string]string{"reserved": "10.99.0.5"},
	}}}
	if canonicalJSON(got.IPAM) != canonicalJSON(wantIPAM) {
		t.Errorf("IPAM = %s, want %s", canonicalJSON(got.IPAM), canonicalJSON(wantIPAM))
	}
	for key, want := range map[string]string{"tier": "back", LabelProject: "shop", LabelNetwork: "backend"} {
		if got.Labels[key] != want {
			t.Errorf("label %s = %q, want %q", key, got.Labels[key], want)
		}
	}
	if got.Labels[LabelConfig] == "" {
		t.Errorf("network has no %s label", LabelConfig)
	}
}

func TestUp_ExistingNetworkMismatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		existing network.CreateOptions
		want     []string
	}{
		{
			name:     "created by hand",
			existing: network.CreateOptions{Labels: map[string]string{}},
			want: []string{`network shop_default was found but has incorrect label io.clusterctl.project set to "" (expected "shop")`,
				"external: true", "docker network rm shop_default"},
		},
		{
			name:     "another key",
			existing: network.CreateOptions{Labels: map[string]string{LabelProject: "shop", LabelNetwork: "front"}},
			want:     []string{`incorrect label io.clusterctl.network set to "front" (expected "default")`, "clusterctl down, then up"},
		},
		{
			name: "settings changed in the file",
			existing: network.CreateOptions{Labels: map[string]string{LabelProject: "shop", LabelNetwork: "default",
				LabelConfig: `{"driver":"bridge","internal":true}`}},
			want: []string{"network shop_default was found but has incorrect config: driver, internal differ from the file",
				"run clusterctl down, then up, to recreate it"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			if _, err := engine.NetworkCreate(t.Context(), "shop_default", tc.existing); err != nil {
				t.Fatal(err)
			}
			o, _ := newTestOrchestrator(engine)

			err := o.Up(t.Context(), projectOf(serviceOf("web", 1)), UpOptions{})

			requireErrorContains(t, err, tc.want...)
			if names := engine.names(); len(names) != 0 {
				t.Errorf("containers created despite the network error: %v", names)
			}
		})
	}
}

func TestUp_NetworkFromEarlierVersionAccepted(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	labels := map[string]string{LabelProject: "shop", LabelNetwork: "default"}
	if _, err := engine.NetworkCreate(t.Context(), "shop_default", network.CreateOptions{Labels: labels}); err != nil {
		t.Fatal(err)
	}
	o, _ := newTestOrchestrator(engine)
	if err := o.Up(t.Context(), projectOf(serviceOf("web", 1)), UpOptions{}); err != nil {
		t.Fatalf("Up with a network without %s: %v", LabelConfig, err)
	}
}

func TestUp_ExternalNetwork(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := projectOf(serviceOf("web", 1, func(svc *compose.Service) {
		svc.Config.Networks = map[string]*composetypes.ServiceNetworkConfig{"shared": nil}
	}))
	p.Model.Networks["shared"] = composetypes.NetworkConfig{Name: "corp-shared", External: true}

	err := o.Up(t.Context(), p, UpOptions{})

	requireErrorContains(t, err, "network corp-shared is declared external", `key "shared"`, "docker network create corp-shared")
	if names := engine.names(); len(names) != 0 {
		t.Errorf("containers created although the external network is missing: %v", names)
	}
	if len(engine.networks) != 0 {
		t.Errorf("networks created: %v, want none", engine.networks)
	}

	if _, err := engine.NetworkCreate(t.Context(), "corp-shared", network.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up with the external network present: %v", err)
	}
	if len(engine.networks) != 1 {
		t.Errorf("networks = %v, want only the external one", engine.networks)
	}
}

func TestUp_Volumes(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := projectOf(serviceOf("web", 1, func(svc *compose.Service) {
		svc.Config.Volumes = []composetypes.ServiceVolumeConfig{
			{Type: composetypes.VolumeTypeVolume, Source: "data", Target: "/data"},
			{Type: composetypes.VolumeTypeVolume, Source: "shared", Target: "/shared"},
		}
	}))
	p.Model.Volumes["data"] = composetypes.VolumeConfig{Name: "shop_data", Driver: "local",
		DriverOpts: composetypes.Options{"type": "tmpfs", "device": "tmpfs"}, Labels: composetypes.Labels{"backup": "daily"}}
	p.Model.Volumes["shared"] = composetypes.VolumeConfig{Name: "corp-shared", External: true}

	err := o.Up(t.Context(), p, UpOptions{})
	requireErrorContains(t, err, "volume corp-shared is declared external", "docker volume create corp-shared")
	if _, ok := engine.volumes["shop_data"]; ok {
		t.Error("volume shop_data is left after the failed up")
	}

	engine.volumes["corp-shared"] = volume.CreateOptions{Name: "corp-shared"}
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	got := engine.volumes["shop_data"]
	if got.Driver != "local" || !maps.Equal(got.DriverOpts, map[string]string{"type": "tmpfs", "device": "tmpfs"}) {
		t.Errorf("volume shop_data = %+v, want driver local with the file's driver_opts", got)
	}
	for key, want := range map[string]string{"backup": "daily", LabelProject: "shop", LabelVolume: "data"} {
		if got.Labels[key] != want {
			t.Errorf("volume label %s = %q, want %q", key, got.Labels[key], want)
		}
	}
	if len(engine.volumes["corp-shared"].Labels) != 0 {
		t.Errorf("external volume got labels %v", engine.volumes["corp-shared"].Labels)
	}

	if err := o.Down(t.Context(), "shop", DownOptions{Volumes: true}); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if _, ok := engine.volumes["shop_data"]; ok {
		t.Error("down --volumes kept shop_data")
	}
	if _, ok := engine.volumes["corp-shared"]; !ok {
		t.Error("down --volumes removed the external volume corp-shared")
	}
}

func TestUp_NetworkModeCreatesNoNetwork(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := projectOf(serviceOf("web", 1, func(svc *compose.Service) {
		svc.Config.NetworkMode = "none"
	}))

	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if len(engine.networks) != 0 {
		t.Errorf("networks = %v, want none for a service with network_mode: none", engine.networks)
	}
}

func TestDown_AnonymousVolumesOnlyWithVolumes(t *testing.T) {
	t.Parallel()
	for _, volumes := range []bool{false, true} {
		engine := newFakeEngine()
		o, _ := newTestOrchestrator(engine)
		p := projectOf(serviceOf("web", 2, func(svc *compose.Service) {
			svc.Config.Volumes = []composetypes.ServiceVolumeConfig{{Type: composetypes.VolumeTypeVolume, Target: "/cache"}}
		}))
		if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
			t.Fatalf("Up: %v", err)
		}
		engine.removed = nil

		if err := o.Down(t.Context(), "shop", DownOptions{Volumes: volumes}); err != nil {
			t.Fatalf("Down: %v", err)
		}
		if len(engine.removed) != 2 {
			t.Errorf("Down(Volumes: %t) removed %d containers, want 2 instances",
				volumes, len(engine.removed))
		}
		for _, r := range engine.removed {
			if r.anonymousVolumes != volumes {
				t.Errorf("Down(Volumes: %t) removed %s with RemoveVolumes %t", volumes, r.name, r.anonymousVolumes)
			}
		}
	}
}

func TestUp_VolumeSettingsChanged(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := projectOf(serviceOf("web", 1, func(svc *compose.Service) {
		svc.Config.Volumes = []composetypes.ServiceVolumeConfig{{Type: composetypes.VolumeTypeVolume, Source: "data", Target: "/data"}}
	}))
	p.Model.Volumes["data"] = composetypes.VolumeConfig{Name: "shop_data"}
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("first Up: %v", err)
	}
	p.Model.Volumes["data"] = composetypes.VolumeConfig{Name: "shop_data", DriverOpts: composetypes.Options{"type": "tmpfs"}}

	err := o.Up(t.Context(), p, UpOptions{})

	requireErrorContains(t, err, "volume shop_data was found but has incorrect config: driver_opts differ from the file",
		"deletes its data", "clusterctl down --volumes")
}

func TestUp_DependsOnStartOrder(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := projectOf(
		serviceOf("db", 2),
		serviceOf("api", 2, dependsOn("db", ConditionStarted)),
		serviceOf("web", 2, dependsOn("api", ConditionHealthy)),
	)
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	starts := engine.startOrder()
	if len(starts) != 6 {
		t.Fatalf("starts = %v, want 6 instances", starts)
	}
	if lastStartIndex(starts, "shop-db-") > startIndex(starts, "shop-api-") {
		t.Errorf("api started before every db instance did: %v", starts)
	}
	if lastStartIndex(starts, "shop-api-") > startIndex(starts, "shop-web-") {
		t.Errorf("web started before every api instance did: %v", starts)
	}
}

func TestUp_ServiceHealthyWaitsForReadiness(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	var mu sync.Mutex
	checks, startsWhenHealthy := 0, -1
	// The hook runs under engine.mu, so it reads engine.starts directly.
	engine.health = func(name string) container.HealthStatus {
		if !strings.HasPrefix(name, "shop-db-") {
			return container.Healthy
		}
		mu.Lock()
		defer mu.Unlock()
		if checks++; checks < 4 {
			return container.Starting
		}
		if startsWhenHealthy < 0 {
			startsWhenHealthy = len(engine.starts)
		}
		return container.Healthy
	}
	o, events := newTestOrchestrator(engine)
	p := projectOf(serviceOf("db", 1), serviceOf("web", 1, dependsOn("db", ConditionHealthy)))

	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}

	web := startIndex(engine.startOrder(), "shop-web-")
	mu.Lock()
	defer mu.Unlock()
	if web < 0 || startsWhenHealthy < 0 || web < startsWhenHealthy {
		t.Errorf("web started at position %d, before db became healthy (after %d starts)", web, startsWhenHealthy)
	}
	if !hasEvent(*events, EventInfo, "web", "waits for db (service_healthy)") {
		t.Error("no event says that web waits for db")
	}
}

func TestUp_CompletedSuccessfully(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	engine.exitOnStart = func(name string) (int, bool) { return 0, strings.HasPrefix(name, "shop-migrate-") }
	o, events := newTestOrchestrator(engine)
	p := projectOf(serviceOf("migrate", 1, oneShot), serviceOf("web", 2, dependsOn("migrate", ConditionCompleted)))

	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	starts := engine.startOrder()
	if got := startIndex(starts, "shop-migrate-"); got != 0 {
		t.Errorf("migrate started at position %d of %v, want first", got, starts)
	}
	if !hasEvent(*events, EventReady, "migrate", "completed with exit code 0") {
		t.Error("no event says that migrate completed")
	}

	*events = nil
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if again := engine.startOrder(); len(again) != len(starts) {
		t.Errorf("second Up started %v, want nothing, because migrate completed", again[len(starts):])
	}
}

func TestUp_CompletedUnsuccessfully(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	engine.exitOnStart = func(name string) (int, bool) { return 3, strings.HasPrefix(name, "shop-migrate-") }
	o, _ := newTestOrchestrator(engine)
	p := projectOf(serviceOf("migrate", 1, oneShot), serviceOf("web", 1, dependsOn("migrate", ConditionCompleted)))

	err := o.Up(t.Context(), p, UpOptions{})

	requireErrorContains(t, err, "instance migrate.0", "exited with code 3",
		"web depends on it with condition service_completed_successfully, which needs exit code 0", "last log lines")
	if !errors.Is(err, ErrNotReady) {
		t.Errorf("error does not match ErrNotReady: %v", err)
	}
	if startIndex(engine.startOrder(), "shop-web-") >= 0 {
		t.Errorf("web started although migrate failed: %v", engine.startOrder())
	}
	if names := engine.names(); len(names) != 0 {
		t.Errorf("containers left after the failed up: %v", names)
	}
}

func TestUp_OptionalDependencySkipped(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, events := newTestOrchestrator(engine)
	optional := func(d *composetypes.ServiceDependency) { d.Required = false }
	p := projectOf(serviceOf("web", 1, dependsOn("cache", ConditionHealthy, optional)))

	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if !hasEvent(*events, EventWarning, "web", "depends_on cache skipped") {
		t.Errorf("no warning about the skipped dependency; events: %+v", *events)
	}
}

func TestUp_NamedServiceBringsDependencies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		noDeps bool
		want   []string
	}{
		{"with dependencies", false, []string{"shop-db-0-", "shop-web-0-"}},
		{"no-deps", true, []string{"shop-web-0-"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			o, _ := newTestOrchestrator(engine)
			p := projectOf(serviceOf("db", 1), serviceOf("web", 1, dependsOn("db", ConditionStarted)), serviceOf("other", 1))

			if err := o.Up(t.Context(), p, UpOptions{Services: []string{"web"}, NoDeps: tc.noDeps}); err != nil {
				t.Fatalf("Up: %v", err)
			}
			starts := engine.startOrder()
			if len(starts) != len(tc.want) {
				t.Fatalf("starts = %v, want %v", starts, tc.want)
			}
			for i, prefix := range tc.want {
				if !strings.HasPrefix(starts[i], prefix) {
					t.Errorf("start %d = %s, want %s...", i, starts[i], prefix)
				}
			}
		})
	}
}

func TestUp_RestartTrueReplacesDependents(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, events := newTestOrchestrator(engine)
	restart := func(d *composetypes.ServiceDependency) { d.Restart = true }
	p := projectOf(serviceOf("db", 1), serviceOf("web", 2, dependsOn("db", ConditionHealthy, restart)), serviceOf("idle", 1))
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("first Up: %v", err)
	}
	before := map[string]bool{}
	for _, name := range engine.names() {
		before[name] = true
	}
	value := "2"
	p.Services[slices.IndexFunc(p.Services, func(s compose.Service) bool { return s.Name == "db" })].Config.Environment =
		composetypes.MappingWithEquals{"SCHEMA": &value}

	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up after changing db: %v", err)
	}

	for _, name := range engine.names() {
		switch {
		case strings.HasPrefix(name, "shop-web-") && before[name]:
			t.Errorf("web instance %s was kept although db changed and web depends on it with restart: true", name)
		case strings.HasPrefix(name, "shop-idle-") && !before[name]:
			t.Errorf("idle instance %s was replaced although idle does not depend on db", name)
		}
	}
	if !hasEvent(*events, EventInfo, "web", "because db changed and depends_on sets restart: true") {
		t.Error("no event explains why web was replaced")
	}
	if !hasEvent(*events, EventInfo, "web", "new containers of the same revision") {
		t.Errorf("no event says that web keeps its revision: %+v", *events)
	}
}

func TestUp_NoStartResolvesServiceNetworkMode(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	// app sorts before the service whose network stack it shares.
	p := projectOf(serviceOf("zdb", 1), serviceOf("app", 1, dependsOn("zdb", ConditionStarted), func(svc *compose.Service) {
		svc.Config.NetworkMode = "service:zdb"
	}))

	if err := o.Up(t.Context(), p, UpOptions{NoStart: true}); err != nil {
		t.Fatalf("Up --no-start: %v", err)
	}
	var zdb string
	for id, c := range engine.containers {
		if strings.HasPrefix(c.name, "shop-zdb-0-") {
			zdb = id
		}
	}
	for _, c := range engine.containers {
		if strings.HasPrefix(c.name, "shop-app-0-") {
			equal(t, "app NetworkMode", c.host.NetworkMode, container.NetworkMode("container:"+zdb))
		}
	}

	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up after --no-start: %v", err)
	}
	starts := engine.startOrder()
	if len(starts) != 2 || !strings.HasPrefix(starts[0], "shop-zdb-0-") {
		t.Errorf("starts = %v, want zdb, then app", starts)
	}
}

func TestUp_NoStartCreatesWithoutStarting(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := projectOf(serviceOf("db", 1), serviceOf("web", 2, dependsOn("db", ConditionHealthy), func(svc *compose.Service) {
		svc.Proxy = &compose.Proxy{Mode: "http", Ports: []compose.ProxyPort{{Target: 8080, Protocol: "tcp", HostIP: "127.0.0.1", HostPort: "8080", Published: true}}}
	}))

	if err := o.Up(t.Context(), p, UpOptions{NoStart: true}); err != nil {
		t.Fatalf("Up --no-start: %v", err)
	}
	names := engine.names()
	slices.Sort(names)
	if len(names) != 4 || !slices.Contains(names, "shop-web-frontdoor") {
		t.Fatalf("containers = %v, want db, two web instances and the web front door", names)
	}
	if starts := engine.startOrder(); len(starts) != 0 {
		t.Errorf("up --no-start started %v", starts)
	}
	if len(engine.networks) != 1 {
		t.Errorf("networks = %v, want the project network", engine.networks)
	}

	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up after --no-start: %v", err)
	}
	starts := engine.startOrder()
	if len(starts) != 4 {
		t.Fatalf("starts = %v, want the 4 containers created by --no-start", starts)
	}
	if starts[0] != "shop-web-frontdoor" && starts[1] != "shop-web-frontdoor" {
		t.Errorf("front door started late: %v", starts)
	}
	if lastStartIndex(starts, "shop-db-") > startIndex(starts, "shop-web-0") {
		t.Errorf("web started before db although it depends on it: %v", starts)
	}
	if got := len(engine.names()); got != 4 {
		t.Errorf("%d containers after up, want the same 4", got)
	}
	var pushed bool
	for _, cmd := range engine.execs {
		pushed = pushed || strings.Contains(cmd, "frontdoor members")
	}
	if !pushed {
		t.Error("the front door never got a membership after up")
	}
}

func TestUp_NoStartLeavesRunningInstances(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, events := newTestOrchestrator(engine)
	p := projectOf(serviceOf("web", 2))
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	before := engine.names()
	value := "x"
	p.Services[0].Config.Environment = composetypes.MappingWithEquals{"NEW": &value}
	p.Services[0].Instances = compose.InstanceCount{Fixed: 3}

	if err := o.Up(t.Context(), p, UpOptions{NoStart: true}); err != nil {
		t.Fatalf("Up --no-start: %v", err)
	}
	after := engine.names()
	if len(after) != len(before)+1 {
		t.Errorf("containers = %v, want the 2 old ones and 1 created", after)
	}
	for _, name := range before {
		if !slices.Contains(after, name) {
			t.Errorf("up --no-start removed %s", name)
		}
	}
	if !hasEvent(*events, EventWarning, "", "--no-start leaves this for the next up: roll out web [0 1]") {
		t.Errorf("no warning about the deferred rollout; events: %+v", *events)
	}
}

// TestUp_ReplacedAndScaledAwayTakeAnonymousVolumes checks that an instance
// removed for good, by a rollout or a scale-down, is removed with its
// anonymous volumes, which nothing else refers to.
func TestUp_ReplacedAndScaledAwayTakeAnonymousVolumes(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := projectOf(serviceOf("web", 2, func(svc *compose.Service) {
		svc.Config.Volumes = []composetypes.ServiceVolumeConfig{{Type: composetypes.VolumeTypeVolume, Target: "/cache"}}
	}))
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("first Up: %v", err)
	}

	value := "v2"
	p.Services[0].Config.Environment = composetypes.MappingWithEquals{"VERSION": &value}
	engine.removed = nil
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("rollout Up: %v", err)
	}
	if len(engine.removed) != 2 {
		t.Errorf("rollout removed %d containers, want the 2 old instances", len(engine.removed))
	}
	for _, r := range engine.removed {
		if !r.anonymousVolumes {
			t.Errorf("rollout removed %s without its anonymous volumes", r.name)
		}
	}

	if err := p.SetInstances("web", compose.InstanceCount{Fixed: 1}); err != nil {
		t.Fatalf("SetInstances: %v", err)
	}
	engine.removed = nil
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("scale-down Up: %v", err)
	}
	if len(engine.removed) != 1 || !engine.removed[0].anonymousVolumes {
		t.Errorf("scale-down removed %+v, want slot 1 with its anonymous volumes", engine.removed)
	}
}

func TestUp_RenamedServiceTakesOverPorts(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	published := func() *compose.Project {
		p := testProject(1, true)
		p.Services[0].Proxy.Ports[0].Published = true
		return p
	}
	if err := o.Up(t.Context(), published(), UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	renamed := published()
	renamed.Services[0].Name = "api"
	renamed.Services[0].Config.Name = "api"

	if err := o.Up(t.Context(), renamed, UpOptions{RemoveOrphans: true}); err != nil {
		t.Fatalf("Up of the renamed service with RemoveOrphans: %v", err)
	}

	names := engine.names()
	if !slices.Contains(names, "shop-api-frontdoor") {
		t.Errorf("containers = %v, want the api front door", names)
	}
	if slices.Contains(names, "shop-web-frontdoor") {
		t.Errorf("containers = %v, want the orphan web front door gone", names)
	}
}

func TestUp_DetachSkipsUnneededWaits(t *testing.T) {
	t.Parallel()
	withFrontDoor := func(svc *compose.Service) {
		svc.Proxy = &compose.Proxy{Mode: "http", Ports: []compose.ProxyPort{{Target: 8080, Protocol: "tcp", HostIP: "127.0.0.1", HostPort: "8080"}}}
	}
	needsHealthy := func() *compose.Project {
		return projectOf(serviceOf("api", 1), serviceOf("web", 1, dependsOn("api", ConditionHealthy)))
	}
	// With stuck set, api's instances stay starting, so a wait for them
	// fails at the short deadline below. Otherwise every instance is
	// healthy at once.
	cases := []struct {
		name    string
		project *compose.Project
		detach  bool
		stuck   bool
		fails   bool
		event   string // a message of an info event for service api
	}{
		{name: "no front door", project: projectOf(serviceOf("api", 2)), detach: true, stuck: true,
			event: "2 instances started and not waited for"},
		{name: "without detach", project: projectOf(serviceOf("api", 2)), stuck: true, fails: true},
		{name: "front door", project: projectOf(serviceOf("api", 2, withFrontDoor)), detach: true, stuck: true, fails: true},
		{name: "front door, ready", project: projectOf(serviceOf("api", 2, withFrontDoor)), detach: true,
			event: "waited until ready despite --detach: its front door"},
		{name: "service_healthy dependency", project: needsHealthy(), detach: true, stuck: true, fails: true},
		{name: "service_healthy dependency, ready", project: needsHealthy(), detach: true,
			event: "waited until ready despite --detach: another service depends on it"},
		{name: "service_started dependency", detach: true, stuck: true,
			project: projectOf(serviceOf("api", 1), serviceOf("web", 1, dependsOn("api", ConditionStarted))),
			event:   "1 instance started and not waited for"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			engine.health = func(name string) container.HealthStatus {
				if tc.stuck && strings.HasPrefix(name, "shop-api-") {
					return container.Starting
				}
				return container.Healthy
			}
			o, events := newTestOrchestrator(engine)
			err := o.Up(t.Context(), tc.project, UpOptions{Detach: tc.detach, WaitTimeout: 300 * time.Millisecond})
			if tc.fails {
				if err == nil {
					t.Fatal("Up returned without error, although it had to wait for instances that never got ready")
				}
				return
			}
			if err != nil {
				t.Fatalf("Up: %v", err)
			}
			if startIndex(engine.startOrder(), "shop-api-") < 0 {
				t.Errorf("starts = %v, want instances of api", engine.startOrder())
			}
			if !hasEvent(*events, EventInfo, "api", tc.event) {
				t.Errorf("no info event for api says %q: %+v", tc.event, *events)
			}
		})
	}
}

func TestUp_WaitsForStartingInstances(t *testing.T) {
	t.Parallel()
	for _, never := range []bool{false, true} {
		t.Run(fmt.Sprintf("never ready %t", never), func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			var mu sync.Mutex
			startingChecks := -1 // below 0: api stays starting
			engine.health = func(name string) container.HealthStatus {
				mu.Lock()
				defer mu.Unlock()
				if !strings.HasPrefix(name, "shop-api-") || startingChecks == 0 {
					return container.Healthy
				}
				if startingChecks > 0 {
					startingChecks--
				}
				return container.Starting
			}
			o, events := newTestOrchestrator(engine)
			p := projectOf(serviceOf("api", 2))
			if err := o.Up(t.Context(), p, UpOptions{Detach: true}); err != nil {
				t.Fatalf("up --detach: %v", err)
			}
			if !never {
				mu.Lock()
				startingChecks = 4
				mu.Unlock()
			}
			*events = nil
			err := o.Up(t.Context(), p, UpOptions{WaitTimeout: 300 * time.Millisecond})
			if never {
				if err == nil {
					t.Fatal("up after up --detach returned without error, although api never got ready")
				}
				return
			}
			if err != nil {
				t.Fatalf("up after up --detach: %v", err)
			}
			if !hasEvent(*events, EventInfo, "api", "waiting for 2 starting instances to get ready") {
				t.Errorf("no event says that up waits for the starting instances: %+v", *events)
			}
			if hasEvent(*events, EventUpToDate, "api", "") {
				t.Errorf("up reported api up to date without a word on the wait: %+v", *events)
			}
		})
	}
}

func TestUp_HostNetworkWarnsOfSharedPorts(t *testing.T) {
	t.Parallel()
	for _, instances := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d instances", instances), func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			o, events := newTestOrchestrator(engine)
			p := projectOf(serviceOf("api", instances, func(svc *compose.Service) { svc.Config.NetworkMode = "host" }))
			if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
				t.Fatalf("Up: %v", err)
			}
			warned := hasEvent(*events, EventWarning, "api", "share the host's ports")
			if warned != (instances > 1) {
				t.Errorf("warning about shared host ports = %t with %d instances, want %t", warned, instances, instances > 1)
			}
		})
	}
}

func TestUp_FailsOnUnhealthyInstance(t *testing.T) {
	t.Parallel()
	for _, proxy := range []bool{false, true} {
		t.Run(fmt.Sprintf("front door %t", proxy), func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			var mu sync.Mutex
			health := container.Healthy
			engine.health = func(string) container.HealthStatus {
				mu.Lock()
				defer mu.Unlock()
				return health
			}
			// The front door reports the rotation that clusterctl pushed.
			engine.frontDoorStatus = func(door string) frontdoor.StatusReport {
				engine.mu.Lock()
				defer engine.mu.Unlock()
				var report frontdoor.StatusReport
				for id := range engine.members[door] {
					report.Backends = append(report.Backends, frontdoor.BackendStatus{Backend: frontdoor.Backend{ID: id}})
				}
				return report
			}
			o, _ := newTestOrchestrator(engine)
			p := testProject(2, proxy)
			if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
				t.Fatalf("first up: %v", err)
			}
			mu.Lock()
			health = container.Unhealthy
			mu.Unlock()
			if err := o.Up(t.Context(), p, UpOptions{WaitTimeout: 300 * time.Millisecond}); err == nil {
				t.Error("up with unhealthy instances returned without error")
			}
		})
	}
}

func TestUp_DetachNamesOneShotAndRolloutWaits(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	engine.exitOnStart = func(name string) (int, bool) { return 0, strings.HasPrefix(name, "shop-migrate-") }
	o, events := newTestOrchestrator(engine)
	p := projectOf(serviceOf("migrate", 1, oneShot), serviceOf("api", 1, dependsOn("migrate", ConditionCompleted)))
	if err := o.Up(t.Context(), p, UpOptions{Detach: true}); err != nil {
		t.Fatalf("up --detach: %v", err)
	}
	if !hasEvent(*events, EventInfo, "migrate", "waited until it completed despite --detach") {
		t.Errorf("no event says that up waited for the one-shot service: %+v", *events)
	}

	value := "2"
	for i := range p.Services {
		if p.Services[i].Name == "api" {
			p.Services[i].Config.Environment = composetypes.MappingWithEquals{"VERSION": &value}
		}
	}
	*events = nil
	if err := o.Up(t.Context(), p, UpOptions{Detach: true}); err != nil {
		t.Fatalf("up --detach after a change: %v", err)
	}
	if !hasEvent(*events, EventInfo, "api", "rolled out despite --detach") {
		t.Errorf("no event says that the rollout waited for readiness: %+v", *events)
	}
}

func TestUp_NegativeCountBelowOneWarns(t *testing.T) {
	t.Parallel()
	for _, fixed := range []int{-2, -9} {
		t.Run(fmt.Sprintf("instances %d", fixed), func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine() // 4 CPUs
			o, events := newTestOrchestrator(engine)
			p := projectOf(serviceOf("api", 0, func(svc *compose.Service) { svc.Instances = compose.InstanceCount{Fixed: fixed} }))
			if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
				t.Fatalf("Up: %v", err)
			}
			warned := hasEvent(*events, EventWarning, "api", "less than 1; running 1 instance")
			if want := 4+fixed < 1; warned != want {
				t.Errorf("warning = %t for instances %d on 4 CPUs, want %t", warned, fixed, want)
			}
		})
	}
}
