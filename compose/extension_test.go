package compose

import (
	"maps"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestLoad_FullExample loads testdata/full, which sets every x-clusterctl
// key at the top level, in services, and in a discovered override file.
func TestLoad_FullExample(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs("testdata/full")
	if err != nil {
		t.Fatal(err)
	}

	p := mustLoad(t, Options{WorkingDir: dir})

	if p.Name != "shop" {
		t.Errorf("Name = %s, want shop", p.Name)
	}
	wantNames := []string{"api", "cache", "worker"}
	if got := serviceNames(p.Services); !reflect.DeepEqual(got, wantNames) {
		t.Errorf("Services = %v, want api, cache and worker (debug is in a profile)", got)
	}

	api, _ := p.Service("api")
	wantAPI := Service{
		Name:        "api",
		Instances:   InstanceCount{Fixed: 4},
		InstanceVar: "NODE_APP_INSTANCE",
		OTel: OTel{
			Endpoint: "http://otel-collector:4318",
			Protocol: "grpc",
			Enabled:  true,
			ResourceAttributes: map[string]string{
				"deployment.environment.name": "production",
				"team":                        "api",
				"tier":                        "1",
			},
		},
		Ready:        &ReadyProbe{HTTPPath: "/healthz", Port: 8080, Timeout: time.Minute},
		MinUptime:    5 * time.Second,
		DrainTimeout: 30 * time.Second,
		Proxy: &Proxy{Mode: "http", Ports: []ProxyPort{
			{Target: 8080, Protocol: "tcp", Published: true, HostIP: "127.0.0.1", HostPort: "8080"},
		}},
	}
	compareService(t, *api, wantAPI)
	if api.Config.Image != "shop-api:1.2.3" {
		t.Errorf("api image = %s, want shop-api:1.2.3 with API_TAG from .env", api.Config.Image)
	}

	worker, _ := p.Service("worker")
	compareService(t, *worker, Service{
		Name:      "worker",
		Instances: InstanceCount{Max: true},
		OTel: OTel{
			Endpoint: "http://otel-collector:4318",
			Protocol: "http/protobuf",
			Enabled:  false,
			ResourceAttributes: map[string]string{
				"deployment.environment.name": "production",
				"team":                        "checkout",
			},
		},
		DrainTimeout: 20 * time.Second,
	})

	cache, _ := p.Service("cache")
	if !reflect.DeepEqual(cache.Ready, &ReadyProbe{TCP: true, Port: 6379}) {
		t.Errorf("cache Ready = %+v, want a TCP probe on 6379", cache.Ready)
	}
	wantProxy := &Proxy{Mode: "tcp", Ports: []ProxyPort{
		{Target: 6379, Protocol: "tcp", Published: true},
	}}
	if !reflect.DeepEqual(cache.Proxy, wantProxy) {
		t.Errorf("cache Proxy = %+v, want %+v", cache.Proxy, wantProxy)
	}
}

// compareService compares the clusterctl settings of got with want,
// ignoring Config.
func compareService(t testing.TB, got, want Service) {
	t.Helper()
	got.Config = want.Config
	if !reflect.DeepEqual(got, want) {
		t.Errorf("service %s:\n got  %+v\n want %+v", want.Name, got, want)
		t.Logf("OTel got %+v want %+v", got.OTel, want.OTel)
		t.Logf("Proxy got %+v want %+v", got.Proxy, want.Proxy)
	}
}

func TestLoad_Instances(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		top     string
		service string
		environ []string
		want    InstanceCount
	}{
		{name: "default", want: InstanceCount{Fixed: 1}},
		{name: "deploy.replicas", service: "deploy: {replicas: 3}", want: InstanceCount{Fixed: 3}},
		{name: "scale", service: "scale: 2", want: InstanceCount{Fixed: 2}},
		{name: "zero replicas", service: "deploy: {replicas: 0}", want: InstanceCount{Fixed: 0}},
		{
			name:    "instances over deploy.replicas",
			service: "deploy: {replicas: 2}\n    x-clusterctl: {instances: 4}",
			want:    InstanceCount{Fixed: 4},
		},
		{name: "string", service: `x-clusterctl: {instances: "4"}`, want: InstanceCount{Fixed: 4}},
		{name: "max", service: "x-clusterctl: {instances: max}", want: InstanceCount{Max: true}},
		{
			name:    "negative",
			service: "x-clusterctl: {instances: -1}",
			want:    InstanceCount{Fixed: -1},
		},
		{
			name:    "negative string",
			service: `x-clusterctl: {instances: "-2"}`,
			want:    InstanceCount{Fixed: -2},
		},
		{
			name:    "interpolated",
			service: `x-clusterctl: {instances: "${WORKERS}"}`,
			environ: []string{"WORKERS=6"},
			want:    InstanceCount{Fixed: 6},
		},
		{name: "top level", top: "instances: max", want: InstanceCount{Max: true}},
		{
			name:    "service over top level",
			top:     "instances: max",
			service: "x-clusterctl: {instances: 2}",
			want:    InstanceCount{Fixed: 2},
		},
		{
			name:    "top level over deploy.replicas",
			top:     "instances: -1",
			service: "deploy: {replicas: 5}",
			want:    InstanceCount{Fixed: -1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			content := "services:\n  api:\n    image: api:1\n    " + tc.service + "\n"
			if tc.top != "" {
				content = "x-clusterctl:\n  " + tc.top + "\n" + content
			}
			dir := writeFiles(t, map[string]string{"compose.yaml": content})

			p := mustLoad(t, Options{WorkingDir: dir, Environ: append([]string{}, tc.environ...)})

			if got := p.Services[0].Instances; got != tc.want {
				t.Errorf("Instances = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLoad_ExtensionMerge(t *testing.T) {
	t.Parallel()
	const content = `x-clusterctl:
  instance_var: SLOT
  min_uptime: 10s
  otel:
    endpoint: http://collector:4318
    protocol: http/protobuf
    resource_attributes:
      deployment.environment.name: staging
      team: core
  ready:
    http: /ready
    port: 8080
services:
  plain:
    image: plain:1
  custom:
    image: custom:1
    x-clusterctl:
      min_uptime: 0s
      drain_timeout: 1m30s
      otel:
        endpoint: ""
        enabled: false
        resource_attributes:
          team: payments
          priority: true
      ready:
        tcp: true
        port: 9000
`
	dir := writeFiles(t, map[string]string{"compose.yaml": content})
	p := mustLoad(t, Options{WorkingDir: dir})

	plain, _ := p.Service("plain")
	compareService(t, *plain, Service{
		Name:        "plain",
		Instances:   InstanceCount{Fixed: 1},
		InstanceVar: "SLOT",
		OTel: OTel{
			Endpoint: "http://collector:4318", Protocol: "http/protobuf", Enabled: true,
			ResourceAttributes: map[string]string{
				"deployment.environment.name": "staging", "team": "core",
			},
		},
		Ready:        &ReadyProbe{HTTPPath: "/ready", Port: 8080},
		MinUptime:    10 * time.Second,
		DrainTimeout: DefaultDrainTimeout,
	})

	custom, _ := p.Service("custom")
	compareService(t, *custom, Service{
		Name:        "custom",
		Instances:   InstanceCount{Fixed: 1},
		InstanceVar: "SLOT",
		OTel: OTel{
			Endpoint: "", Protocol: "http/protobuf", Enabled: false,
			ResourceAttributes: map[string]string{
				"deployment.environment.name": "staging", "team": "payments", "priority": "true",
			},
		},
		Ready:        &ReadyProbe{TCP: true, Port: 9000},
		DrainTimeout: 90 * time.Second,
	})

	custom.OTel.ResourceAttributes["team"] = "changed"
	custom.Ready.Port = 1
	if plain.OTel.ResourceAttributes["team"] != "core" || plain.Ready.Port != 8080 {
		t.Error("services share the top-level attributes map or ready probe")
	}
}

func TestLoad_Proxy(t *testing.T) {
	t.Parallel()
	published := func(target int, hostIP, hostPort string) ProxyPort {
		return ProxyPort{
			Target: target, Protocol: "tcp", Published: true, HostIP: hostIP, HostPort: hostPort,
		}
	}
	cases := []struct {
		name    string
		top     string
		service string
		want    *Proxy
	}{
		{name: "no ports", service: "expose: [\"80\"]", want: nil},
		{
			name:    "published port",
			service: `ports: ["8080:80"]`,
			want:    &Proxy{Mode: "http", Ports: []ProxyPort{published(80, "", "8080")}},
		},
		{
			name:    "host IP",
			service: `ports: ["127.0.0.1:9000:90"]`,
			want:    &Proxy{Mode: "http", Ports: []ProxyPort{published(90, "127.0.0.1", "9000")}},
		},
		{
			name:    "ephemeral host port",
			service: `ports: ["3000"]`,
			want:    &Proxy{Mode: "http", Ports: []ProxyPort{published(3000, "", "")}},
		},
		{
			name: "long syntax",
			service: "ports:\n      - target: 80\n" +
				"        published: \"8081\"\n        host_ip: 127.0.0.1",
			want: &Proxy{Mode: "http", Ports: []ProxyPort{published(80, "127.0.0.1", "8081")}},
		},
		{
			name:    "range expanded",
			service: `ports: ["8080-8081:80-81"]`,
			want: &Proxy{Mode: "http", Ports: []ProxyPort{
				published(80, "", "8080"), published(81, "", "8081"),
			}},
		},
		{
			name:    "host range for one port",
			service: `ports: ["8000-8010:80"]`,
			want:    &Proxy{Mode: "http", Ports: []ProxyPort{published(80, "", "8000-8010")}},
		},
		{
			name:    "proxy false",
			service: "ports: [\"8080:80\"]\n    x-clusterctl: {proxy: false}",
			want:    nil,
		},
		{
			name:    "proxy false allows UDP",
			service: "ports: [\"5353:53/udp\"]\n    x-clusterctl: {proxy: false}",
			want:    nil,
		},
		{
			name:    "network port only",
			service: "x-clusterctl: {proxy: {port: 8080}}",
			want:    &Proxy{Mode: "http", Ports: []ProxyPort{{Target: 8080, Protocol: "tcp"}}},
		},
		{
			name:    "network port beside published port",
			service: "ports: [\"8080:80\"]\n    x-clusterctl: {proxy: {mode: tcp, port: 9090}}",
			want: &Proxy{Mode: "tcp", Ports: []ProxyPort{
				published(80, "", "8080"), {Target: 9090, Protocol: "tcp"},
			}},
		},
		{
			name:    "network port already published",
			service: "ports: [\"8080:80\"]\n    x-clusterctl: {proxy: {port: 80}}",
			want:    &Proxy{Mode: "http", Ports: []ProxyPort{published(80, "", "8080")}},
		},
		{
			name:    "mode without ports",
			service: "x-clusterctl: {proxy: {mode: tcp}}",
			want:    nil,
		},
		{
			name:    "top-level mode",
			top:     "proxy: {mode: tcp}",
			service: `ports: ["5432:5432"]`,
			want:    &Proxy{Mode: "tcp", Ports: []ProxyPort{published(5432, "", "5432")}},
		},
		{
			name:    "top-level proxy false",
			top:     "proxy: false",
			service: `ports: ["8080:80"]`,
			want:    nil,
		},
		{
			name:    "service proxy over top-level false",
			top:     "proxy: false",
			service: "ports: [\"8080:80\"]\n    x-clusterctl: {proxy: {}}",
			want:    &Proxy{Mode: "http", Ports: []ProxyPort{published(80, "", "8080")}},
		},
		{
			name:    "interpolated proxy false",
			service: "ports: [\"8080:80\"]\n    x-clusterctl: {proxy: \"${FRONT_DOOR:-false}\"}",
			want:    nil,
		},
		{
			name:    "replicas with front door",
			service: "ports: [\"8080:80\"]\n    deploy: {replicas: 4}",
			want:    &Proxy{Mode: "http", Ports: []ProxyPort{published(80, "", "8080")}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			content := "services:\n  web:\n    image: web:1\n    " + tc.service + "\n"
			if tc.top != "" {
				content = "x-clusterctl:\n  " + tc.top + "\n" + content
			}

			svc := loadService(t, content, "web")

			if !reflect.DeepEqual(svc.Proxy, tc.want) {
				t.Errorf("Proxy = %+v, want %+v", svc.Proxy, tc.want)
			}
		})
	}
}

func TestLoad_SingleInstanceAllowsFixedNames(t *testing.T) {
	t.Parallel()
	const content = `services:
  db:
    image: db:1
    container_name: shop-db
    ports: ["5432:5432"]
    x-clusterctl:
      proxy: false
`
	svc := loadService(t, content, "db")

	if svc.Config.ContainerName != "shop-db" {
		t.Errorf("container_name = %s, want shop-db", svc.Config.ContainerName)
	}
	if svc.Proxy != nil {
		t.Errorf("Proxy = %+v, want nil with proxy: false", svc.Proxy)
	}
}

func TestMergeOTel_NilBlocks(t *testing.T) {
	t.Parallel()
	endpoint := "http://collector:4318"
	top := &otelBlock{endpoint: &endpoint, attributes: map[string]string{"a": "1"}}

	merged := mergeOTel(top, nil).resolve()

	want := OTel{Endpoint: endpoint, Enabled: true, ResourceAttributes: map[string]string{"a": "1"}}
	if !reflect.DeepEqual(merged, want) {
		t.Errorf("merged = %+v, want %+v", merged, want)
	}
	merged.ResourceAttributes["a"] = "2"
	if !maps.Equal(top.attributes, map[string]string{"a": "1"}) {
		t.Error("resolve shares the attributes map with the block")
	}
	if got := (*otelBlock)(nil).resolve(); !reflect.DeepEqual(got, OTel{Enabled: true}) {
		t.Errorf("nil block resolves to %+v, want only Enabled", got)
	}
}
