package orchestrator

import (
	"strings"
	"testing"
)

func exited(service string, slot int, revision string, code int) ObservedContainer {
	c := instance(service, slot, revision, "exited")
	c.ExitCode = code
	return c
}

func TestPlanUp_OneShot(t *testing.T) {
	t.Parallel()
	migrate := DesiredService{Name: "migrate", Count: 1, Revision: "r1", OneShot: true}
	cases := []struct {
		name     string
		desired  DesiredService
		observed []ObservedContainer
		want     string
	}{
		{
			name:    "first run",
			desired: migrate,
			want:    "create migrate.0",
		},
		{
			name:     "completed on the file's revision stays done",
			desired:  migrate,
			observed: []ObservedContainer{exited("migrate", 0, "r1", 0)},
			want:     "",
		},
		{
			name:     "failed run starts again",
			desired:  migrate,
			observed: []ObservedContainer{exited("migrate", 0, "r1", 3)},
			want:     "start migrate.0 (exited)",
		},
		{
			name:     "unknown exit code starts again",
			desired:  migrate,
			observed: []ObservedContainer{exited("migrate", 0, "r1", -1)},
			want:     "start migrate.0 (exited)",
		},
		{
			name:     "changed revision is replaced, not rolled out",
			desired:  migrate,
			observed: []ObservedContainer{exited("migrate", 0, "r0", 0)},
			want:     "remove migrate.0 (changed)\ncreate migrate.0",
		},
		{
			name:     "an exited long-running instance starts again",
			desired:  DesiredService{Name: "web", Count: 1, Revision: "r1"},
			observed: []ObservedContainer{exited("web", 0, "r1", 0)},
			want:     "start web.0 (exited)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan := PlanUp([]DesiredService{tc.desired}, tc.observed, PlanOptions{})
			if got := plan.String(); got != tc.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestPlan_CreateOnly(t *testing.T) {
	t.Parallel()
	desired := []DesiredService{
		{Name: "web", Count: 3, Revision: "r2", FrontDoor: "fd1"},
		{Name: "api", Count: 1, Revision: "a1"},
	}
	observed := append(running("web", 2, "r1"), frontDoor("web", "fd1"), instance("api", 0, "a1", "created"),
		instance("old", 0, "o1", "running"))
	plan := PlanUp(desired, observed, PlanOptions{RemoveOrphans: true})

	kept, deferred := plan.CreateOnly()

	if got, want := kept.String(), "create web.2"; got != want {
		t.Errorf("kept plan:\n%s\nwant:\n%s", got, want)
	}
	want := []string{"remove old.0 (orphan)", "start api.0 (created)", "roll out web [0 1]"}
	if got := strings.Join(deferred, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("deferred:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestExitCodeOf(t *testing.T) {
	t.Parallel()
	cases := map[string]int{
		"Exited (0) 2 minutes ago":   0,
		"Exited (137) 3 seconds ago": 137,
		"Up 5 minutes":               -1,
		"Created":                    -1,
		"Exited (x) now":             -1,
		"Exited (4":                  -1,
	}
	for status, want := range cases {
		if got := exitCodeOf(status); got != want {
			t.Errorf("exitCodeOf(%q) = %d, want %d", status, got, want)
		}
	}
}
