package compose

import (
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestLoad_ExtendsMergesFields(t *testing.T) {
	t.Parallel()
	svc := loadService(t, `
services:
  base:
    image: app:1
    environment: {SHARED: "1", OVERRIDDEN: base}
    labels: {team: core}
    healthcheck: {test: ["CMD", "/app", "-check"], interval: 2s}
    x-clusterctl: {instances: 3}
  web:
    extends: base
    environment: {OVERRIDDEN: web, OWN: "2"}
    command: ["/app", "serve"]
`, "web")

	env := svc.Config.Environment
	for key, want := range map[string]string{"SHARED": "1", "OVERRIDDEN": "web", "OWN": "2"} {
		if got := env[key]; got == nil || *got != want {
			t.Errorf("environment %s = %v, want %q", key, got, want)
		}
	}
	if svc.Config.Image != "app:1" {
		t.Errorf("image = %q, want the base service's app:1", svc.Config.Image)
	}
	if svc.Config.Labels["team"] != "core" {
		t.Errorf("labels = %v, want team=core from the base service", svc.Config.Labels)
	}
	if svc.Config.HealthCheck == nil || !slices.Equal(svc.Config.HealthCheck.Test, []string{"CMD", "/app", "-check"}) {
		t.Errorf("healthcheck = %+v, want the base service's", svc.Config.HealthCheck)
	}
	if !slices.Equal(svc.Config.Command, types.ShellCommand{"/app", "serve"}) {
		t.Errorf("command = %v, want the extending service's", svc.Config.Command)
	}
	if svc.Instances.Fixed != 3 {
		t.Errorf("instances = %v, want 3 from the base service's x-clusterctl", svc.Instances)
	}
}

func TestLoad_OneShotServices(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, `
services:
  web:
    image: app:1
    depends_on:
      migrate: {condition: service_completed_successfully}
      db: {condition: service_healthy}
  migrate:
    image: app:1
  seed:
    image: app:1
    restart: on-failure
  db:
    image: app:1
  report:
    image: app:1
    depends_on:
      seed: {condition: service_completed_successfully}
`)
	cases := []struct {
		service     string
		wantOneShot bool
		wantRestart string
	}{
		{"migrate", true, "no"},
		{"seed", true, "on-failure"},
		{"db", false, ""},
		{"web", false, ""},
	}
	for _, tc := range cases {
		svc, ok := p.Service(tc.service)
		if !ok {
			t.Fatalf("service %s not loaded", tc.service)
		}
		if svc.OneShot != tc.wantOneShot {
			t.Errorf("%s: OneShot = %v, want %v", tc.service, svc.OneShot, tc.wantOneShot)
		}
		if svc.Config.Restart != tc.wantRestart {
			t.Errorf("%s: restart = %q, want %q", tc.service, svc.Config.Restart, tc.wantRestart)
		}
	}
}

func TestLoad_InvalidOneShotAndPullPolicy(t *testing.T) {
	t.Parallel()
	runInvalidCases(t, []invalidCase{
		{
			name: "one-shot restarts always",
			compose: `services:
  web:
    image: app:1
    depends_on:
      migrate: {condition: service_completed_successfully}
  migrate:
    image: app:1
    restart: always
`,
			want: []string{`service "migrate" restarts always`, `service "web" depends on it`, `"no" or "on-failure"`},
		},
		{
			name: "one-shot deploy restart policy any",
			compose: `services:
  web:
    image: app:1
    depends_on:
      migrate: {condition: service_completed_successfully}
  migrate:
    image: app:1
    deploy: {restart_policy: {condition: any}}
`,
			want: []string{`service "migrate" restarts always`},
		},
		{
			name: "one-shot with a front door",
			compose: `services:
  web:
    image: app:1
    depends_on:
      migrate: {condition: service_completed_successfully}
  migrate:
    image: app:1
    ports: ["127.0.0.1:8080:8080"]
`,
			want: []string{`service "migrate" runs to completion`, "cannot have a front door"},
		},
		{
			name:    "pull_policy always",
			compose: "services:\n  web:\n    image: web:1\n    pull_policy: always\n",
			want:    []string{`pull_policy "always" pulls image "web:1"`, "clusterctl does not pull images", "pull_policy: build"},
		},
		{
			name:    "pull_policy daily",
			compose: "services:\n  web:\n    image: web:1\n    pull_policy: daily\n",
			want:    []string{`pull_policy "daily" pulls image "web:1"`},
		},
		{
			name:    "pull_policy build without a build section",
			compose: "services:\n  web:\n    image: web:1\n    pull_policy: build\n",
			want:    []string{"pull_policy: build needs a build: section", `service "web"`},
		},
	})
}

func TestLoad_PullPoliciesThatDoNotPull(t *testing.T) {
	t.Parallel()
	// compose-go normalizes if_not_present to missing.
	for policy, want := range map[string]string{"never": "never", "missing": "missing", "if_not_present": "missing"} {
		svc := loadService(t, "services:\n  web:\n    image: web:1\n    pull_policy: "+policy+"\n", "web")
		if svc.Config.PullPolicy != want {
			t.Errorf("pull_policy %s loads as %q, want %q", policy, svc.Config.PullPolicy, want)
		}
	}
}
