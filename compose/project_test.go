package compose

import (
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

const selectCompose = `name: shop
services:
  web:
    image: web:1
  api:
    image: api:1
  db:
    image: db:1
  debug:
    image: debug:1
    profiles: [debug, tools]
`

func TestProject_Select(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, selectCompose)
	cases := []struct {
		name  string
		names []string
		want  []string
	}{
		{name: "all", names: nil, want: []string{"api", "db", "web"}},
		{name: "one", names: []string{"db"}, want: []string{"db"}},
		{name: "order named", names: []string{"web", "api"}, want: []string{"web", "api"}},
		{
			name:  "repeats dropped",
			names: []string{"web", "api", "web"},
			want:  []string{"web", "api"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			got, err := p.Select(tc.names)

			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if names := serviceNames(got); !slices.Equal(names, tc.want) {
				t.Errorf("Select(%v) = %v, want %v", tc.names, names, tc.want)
			}
		})
	}
}

func TestProject_SelectInvalid(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, selectCompose)
	cases := []struct {
		name  string
		names []string
		want  []string
	}{
		{
			name:  "unknown",
			names: []string{"web", "wbe"},
			want:  []string{`no service "wbe" in project shop`, "known services are api, db, web"},
		},
		{
			name:  "profile not enabled",
			names: []string{"debug"},
			want: []string{`service "debug" is not enabled`, "profiles (debug, tools)",
				"--profile debug"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			_, err := p.Select(tc.names)

			requireInvalid(t, err, tc.want...)
		})
	}
}

func TestProject_SelectEmptyProject(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, "name: empty\nservices: {}\n")

	_, err := p.Select([]string{"web"})

	requireInvalid(t, err, `no service "web"`, "project empty has no enabled services")
}

func TestProject_Service(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, selectCompose)

	svc, ok := p.Service("db")
	if !ok || svc.Name != "db" {
		t.Fatalf("Service(db) = %v, %t, want db", svc, ok)
	}
	svc.InstanceVar = "CHANGED"
	if p.Services[1].InstanceVar != "CHANGED" {
		t.Error("Service does not point into Project.Services")
	}
	for _, name := range []string{"debug", "zzz", ""} {
		if _, ok := p.Service(name); ok {
			t.Errorf("Service(%q) found, want not found", name)
		}
	}
}

func TestInstanceCount_Resolve(t *testing.T) {
	t.Parallel()
	cases := []struct {
		count InstanceCount
		cpus  int
		want  int
	}{
		{InstanceCount{Fixed: 3}, 8, 3},
		{InstanceCount{Fixed: 0}, 8, 0},
		{InstanceCount{Max: true}, 8, 8},
		{InstanceCount{Max: true}, 0, 1},
		{InstanceCount{Fixed: -1}, 8, 7},
		{InstanceCount{Fixed: -4}, 2, 1},
	}
	for _, tc := range cases {
		if got := tc.count.Resolve(tc.cpus); got != tc.want {
			t.Errorf("%s.Resolve(%d) = %d, want %d", tc.count, tc.cpus, got, tc.want)
		}
	}
}

func TestInstanceCount_String(t *testing.T) {
	t.Parallel()
	cases := map[InstanceCount]string{
		{Fixed: 4}:  "4",
		{Fixed: -1}: "-1",
		{Max: true}: "max",
	}
	for count, want := range cases {
		if got := count.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", count, got, want)
		}
	}
}

func TestCheckSharedHostPorts_AllowsDistinctBindings(t *testing.T) {
	t.Parallel()
	service := func(name, ip, published, protocol string) Service {
		cfg := types.ServiceConfig{Name: name}
		cfg.Ports = []types.ServicePortConfig{{HostIP: ip, Published: published, Target: 80, Protocol: protocol}}
		return Service{Name: name, Config: cfg}
	}
	services := []Service{
		service("a", "127.0.0.1", "8080", "tcp"),
		service("b", "127.0.0.2", "8080", "tcp"),
		service("c", "127.0.0.1", "8080", "udp"),
		service("d", "127.0.0.1", "", "tcp"),
	}

	if err := checkSharedHostPorts(services); err != nil {
		t.Errorf("checkSharedHostPorts: %v, want no error for distinct addresses, protocols and ephemeral ports", err)
	}
}
