package orchestrator

import (
	"strings"
	"testing"

	composetypes "github.com/compose-spec/compose-go/v2/types"

	"github.com/clusterctl/clusterctl/compose"
)

func dep(service, condition string) Dependency {
	return Dependency{Service: service, Condition: condition, Required: true}
}

func TestPlanStart(t *testing.T) {
	t.Parallel()
	shop := map[string][]Dependency{
		"web":     {dep("api", ConditionHealthy)},
		"api":     {dep("db", ConditionHealthy), dep("migrate", ConditionCompleted)},
		"migrate": {dep("db", ConditionStarted)},
		"db":      nil,
		"worker":  {dep("db", ConditionStarted)},
	}
	cases := []struct {
		name     string
		selected []string
		graph    map[string][]Dependency
		expand   bool
		want     string
	}{
		{
			name:     "whole project in dependency order",
			selected: []string{"api", "db", "migrate", "web", "worker"},
			graph:    shop,
			expand:   true,
			want: "db\n" +
				"migrate after db (service_started)\n" +
				"api after db (service_healthy), migrate (service_completed_successfully)\n" +
				"web after api (service_healthy)\n" +
				"worker after db (service_started)",
		},
		{
			name:     "selected service brings its dependencies",
			selected: []string{"web"},
			graph:    shop,
			expand:   true,
			want: "db [dependency]\n" +
				"migrate after db (service_started) [dependency]\n" +
				"api after db (service_healthy), migrate (service_completed_successfully) [dependency]\n" +
				"web after api (service_healthy)",
		},
		{
			name:     "no-deps leaves dependencies out",
			selected: []string{"web", "worker"},
			graph:    shop,
			want:     "web\nworker",
		},
		{
			name:     "no-deps still orders selected services",
			selected: []string{"worker", "db"},
			graph:    shop,
			want:     "db\nworker after db (service_started)",
		},
		{
			name:     "independent services in name order",
			selected: []string{"c", "a", "b"},
			graph:    map[string][]Dependency{"a": nil, "b": nil, "c": nil},
			expand:   true,
			want:     "a\nb\nc",
		},
		{
			name:     "optional dependency on a disabled service is skipped",
			selected: []string{"web"},
			graph:    map[string][]Dependency{"web": {{Service: "cache", Condition: ConditionStarted}}},
			expand:   true,
			want:     "web\nskip web -> cache",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan, err := PlanStart(tc.selected, tc.graph, tc.expand)
			if err != nil {
				t.Fatalf("PlanStart: %v", err)
			}
			if got := plan.String(); got != tc.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestPlanStart_Errors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		graph map[string][]Dependency
		want  []string
	}{
		{
			name: "required dependency not enabled",
			graph: map[string][]Dependency{
				"web": {dep("cache", ConditionStarted)},
			},
			want: []string{`service "web" depends on service "cache", which is not enabled`, "--profile", "required: false"},
		},
		{
			name: "two-service cycle",
			graph: map[string][]Dependency{
				"web": {dep("api", ConditionStarted)},
				"api": {dep("web", ConditionStarted)},
			},
			want: []string{"dependency cycle: api -> web -> api", "remove one of these depends_on entries"},
		},
		{
			name: "cycle behind an acyclic service",
			graph: map[string][]Dependency{
				"web": {dep("a", ConditionStarted)},
				"a":   {dep("b", ConditionHealthy)},
				"b":   {dep("c", ConditionStarted)},
				"c":   {dep("a", ConditionStarted)},
			},
			want: []string{"dependency cycle: a -> b -> c -> a"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := PlanStart([]string{"web"}, tc.graph, true)
			if err == nil {
				t.Fatal("PlanStart succeeded, want an error")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestServiceDependencies_DefaultCondition(t *testing.T) {
	t.Parallel()
	svc := &compose.Service{Name: "web", Config: composetypes.ServiceConfig{WorkloadSpec: composetypes.WorkloadSpec{
		DependsOn: composetypes.DependsOnConfig{
			"db":    {Required: true},
			"cache": {Condition: ConditionHealthy, Restart: true},
		},
	}}}
	got := ServiceDependencies(svc)
	want := []Dependency{
		{Service: "cache", Condition: ConditionHealthy, Restart: true},
		{Service: "db", Condition: ConditionStarted, Required: true},
	}
	if len(got) != len(want) {
		t.Fatalf("dependencies = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("dependency %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
