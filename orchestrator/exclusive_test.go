package orchestrator

import (
	"maps"
	"slices"
	"strings"
	"testing"

	composetypes "github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"

	"github.com/clusterctl/clusterctl/compose"
)

// exclusiveCases are one-instance services without a front door that hold
// a setting only one container can hold at a time.
var exclusiveCases = map[string]func(*compose.Service){
	"container_name": func(svc *compose.Service) { svc.Config.ContainerName = "shop-db" },
	"fixed host port": func(svc *compose.Service) {
		svc.Config.Ports = []composetypes.ServicePortConfig{{Target: 5432, Published: "5432", HostIP: "127.0.0.1", Protocol: "tcp"}}
	},
}

func exclusiveProject(mod func(*compose.Service)) *compose.Project {
	p := testProject(1, false)
	mod(&p.Services[0])
	return p
}

func setVersion(p *compose.Project, value string) {
	p.Services[0].Config.Environment = composetypes.MappingWithEquals{"VERSION": &value}
}

func instanceEnv(engine *fakeEngine) []string {
	engine.mu.Lock()
	defer engine.mu.Unlock()
	var env []string
	for _, c := range engine.containers {
		env = append(env, c.config.Env...)
	}
	return env
}

func TestRollout_ExclusiveSettingRollsOutStopFirst(t *testing.T) {
	t.Parallel()
	for name, mod := range exclusiveCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			o, events := newTestOrchestrator(engine)
			p := exclusiveProject(mod)
			if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
				t.Fatalf("first Up: %v", err)
			}
			setVersion(p, "2")

			if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
				t.Fatalf("Up after a change: %v", err)
			}
			if names := engine.names(); len(names) != 1 {
				t.Errorf("containers = %v, want the new instance only", names)
			}
			if env := instanceEnv(engine); !slices.Contains(env, "VERSION=2") {
				t.Errorf("instance environment = %v, want VERSION=2", env)
			}
			if !hasEvent(*events, EventWarning, "web", "rolls out stop-first") {
				t.Errorf("no warning says that web rolls out stop-first: %+v", *events)
			}
		})
	}
}

// TestRollout_ExclusiveSettingRollsBack fails the new instance in a way
// that keeps what it holds: an unhealthy instance keeps its host port, and
// any new instance keeps the container_name. The rollback must free it
// before the old instance starts again.
func TestRollout_ExclusiveSettingRollsBack(t *testing.T) {
	t.Parallel()
	for name, mod := range exclusiveCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			o, _ := newTestOrchestrator(engine)
			p := exclusiveProject(mod)
			if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
				t.Fatalf("first Up: %v", err)
			}
			before := engine.names()
			oldID := slices.Collect(maps.Keys(engine.containers))[0]
			// The health hook runs with engine.mu held.
			engine.health = func(name string) container.HealthStatus {
				if engine.containers[oldID] != nil && engine.containers[oldID].name == name {
					return container.Healthy
				}
				return container.Unhealthy
			}
			setVersion(p, "2")

			err := o.Up(t.Context(), p, UpOptions{WaitTimeout: pollInterval})
			if err == nil || !strings.Contains(err.Error(), "failed and was rolled back") {
				t.Fatalf("Up error = %v, want a rollout that was rolled back", err)
			}
			if names := engine.names(); !slices.Equal(names, before) {
				t.Errorf("containers after the rollback = %v, want the old instance %v", names, before)
			}
			if c := engine.containers[oldID]; c == nil || !c.running {
				t.Errorf("the old instance is not running after the rollback")
			}
		})
	}
}
