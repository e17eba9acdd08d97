//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"
)

// supervisionCompose is one demo worker instance with the knobs of the
// supervision tests.
const supervisionCompose = `
name: {{.Project}}
services:
  app:
    build:
      context: {{.WorkerDir}}
    image: {{.Image}}
    environment:
      OTEL_SDK_DISABLED: "true"
{{- range $k, $v := .Env}}
      {{$k}}: "{{$v}}"
{{- end}}
{{- if .Restart}}
    restart: {{.Restart}}
{{- end}}
{{- if .StopGrace}}
    stop_grace_period: {{.StopGrace}}
{{- end}}
{{- if .Memory}}
    deploy:
      resources:
        limits:
          memory: {{.Memory}}
{{- end}}
{{- if .Health}}
    healthcheck:
      test: ["CMD", "/worker", "-healthcheck"]
      interval: 200ms
      timeout: 2s
      retries: 3
{{- end}}
    x-clusterctl:
      instances: 1
{{- if .MinUptime}}
      min_uptime: {{.MinUptime}}
{{- end}}
`

type supervisionVars struct {
	Project, WorkerDir, Image string
	Env                       map[string]string
	Restart                   string
	Memory                    string
	Health                    bool
	MinUptime                 string
	StopGrace                 string
}

func (p *project) writeSupervision(vars supervisionVars) {
	p.t.Helper()
	vars.Project, vars.Image = p.Name, workerImage
	vars.WorkerDir = filepath.Join(repoRoot, "deployments", "demo", "worker")
	var buf bytes.Buffer
	if err := template.Must(template.New("compose").Parse(supervisionCompose)).Execute(&buf, vars); err != nil {
		p.t.Fatalf("render compose file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(p.Dir, "compose.yaml"), buf.Bytes(), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// supervisionRow is the part of ps --json that the supervision tests check.
type supervisionRow struct {
	Instance      int        `json:"instance"`
	Name          string     `json:"name"`
	State         string     `json:"state"`
	Restarts      int        `json:"restarts"`
	ExitCode      int        `json:"exit_code"`
	OOMKilled     bool       `json:"oom_killed"`
	UnstableExits int        `json:"unstable_exits"`
	NextRestartAt *time.Time `json:"next_restart_at"`
	GaveUp        bool       `json:"gave_up"`
	Backoff       string     `json:"backoff"`
}

// onlyRow returns the one row of ps --json, or an error while there is
// not exactly one.
func (p *project) onlyRow() (supervisionRow, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := p.run(ctx, "ps", "--json")
	if res.Code != 0 {
		return supervisionRow{}, fmt.Errorf("ps --json: %s", res)
	}
	var rows []supervisionRow
	if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil {
		return supervisionRow{}, fmt.Errorf("ps --json output is not JSON: %w\n%s", err, res.Stdout)
	}
	if len(rows) != 1 {
		return supervisionRow{}, fmt.Errorf("ps --json lists %d instances, want 1: %s", len(rows), res.Stdout)
	}
	return rows[0], nil
}

// waitForRow polls ps --json until cond accepts the instance's row.
func (p *project) waitForRow(timeout time.Duration, cond func(supervisionRow) error) supervisionRow {
	p.t.Helper()
	var row supervisionRow
	eventually(p.t, timeout, func() error {
		var err error
		if row, err = p.onlyRow(); err != nil {
			return err
		}
		if err := cond(row); err != nil {
			return fmt.Errorf("%w: %+v", err, row)
		}
		return nil
	})
	return row
}

// requireOutput fails unless the output of source contains every want.
func requireOutput(t testing.TB, source, output string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(output, w) {
			t.Errorf("%s does not contain %q:\n%s", source, w, output)
		}
	}
}

func TestSupervision_CrashLoopsAndOOM(t *testing.T) {
	t.Run("crash loop fails up", testCrashLoopFailsUp)
	t.Run("crash loop after up", testCrashLoopAfterUp)
	t.Run("OOM kill", testOOMKill)
	t.Run("clean exit under on-failure", testCleanExit)
	t.Run("draining while stopping", testDrainingWhileStopping)
}

// testCrashLoopFailsUp runs up with an instance that exits with code 3
// after 200 ms. up is given a readiness deadline of 10 minutes and must
// fail long before it, with the exit code and the instance's last line.
func testCrashLoopFailsUp(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.writeSupervision(supervisionVars{Env: map[string]string{"DEMO_EXIT_AFTER": "200ms", "DEMO_EXIT_CODE": "3"}})
	// The bound includes the build of the worker image by the first test
	// that needs it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	res := p.run(ctx, "up", "--wait-timeout", "10m")

	if res.Code != 1 {
		t.Fatalf("up: want exit code 1 within 3 minutes, got %s", res)
	}
	requireOutput(t, "stderr of up", res.Stderr, "instance app.0 ("+p.Name+"-app-0-", "is crash-looping: exited with code 3",
		"sooner than min_uptime 1s", "exiting with code 3: DEMO_EXIT_AFTER=200ms elapsed")
	p.requireNothingLeft()
}

// testCrashLoopAfterUp starts an instance that passes its healthcheck and
// then exits with code 3 every 6 s, sooner than its min_uptime of 1 m.
// ps must call it crashloop with the exit code and the engine's backoff,
// and a second up with nothing changed must fail fast on it and keep it.
func testCrashLoopAfterUp(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.writeSupervision(supervisionVars{Health: true, MinUptime: "1m",
		Env: map[string]string{"DEMO_EXIT_AFTER": "6s", "DEMO_EXIT_CODE": "3"}})
	p.mustRun("up")

	row := p.waitForRow(2*time.Minute, func(r supervisionRow) error {
		if r.State != "crashloop" || r.Restarts < 1 || r.ExitCode != 3 || r.UnstableExits < 1 {
			return errNotYet("crashloop with exit code 3 after a restart")
		}
		return nil
	})
	if row.Backoff == "" {
		t.Errorf("crash-looping row has no backoff: %+v", row)
	}
	table := p.mustRun("ps").Stdout
	requireOutput(t, "ps table", table, "crashloop (exit 3")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := p.run(ctx, "up", "--wait-timeout", "10m")

	if res.Code != 1 {
		t.Fatalf("second up: want exit code 1 within 2 minutes, got %s", res)
	}
	requireOutput(t, "stderr of the second up", res.Stderr, "instance app.0 ("+row.Name+") is crash-looping",
		"exited with code 3", "sooner than min_uptime 1m0s", "exiting with code 3: DEMO_EXIT_AFTER=6s elapsed",
		"rollout restart app")
	after, err := p.onlyRow()
	if err != nil {
		t.Fatal(err)
	}
	if after.Name != row.Name {
		t.Errorf("instance %s was replaced by %s; up must leave a crash-looping instance as it is", row.Name, after.Name)
	}
}

// testOOMKill grows an instance past its 64 MiB limit. The engine kills
// and restarts it; ps counts the restart and describe still reports the
// OOM kill once the instance runs again.
func testOOMKill(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.writeSupervision(supervisionVars{Memory: "64M", Env: map[string]string{"DEMO_ALLOC_MB_PER_SEC": "8"}})
	p.mustRun("up")

	p.waitForRow(3*time.Minute, func(r supervisionRow) error {
		if r.Restarts < 1 || !r.OOMKilled || r.ExitCode != 137 {
			return errNotYet("a restart after an OOM kill")
		}
		return nil
	})
	eventually(t, 2*time.Minute, func() error {
		res := p.mustRun("describe", "app.0", "--json")
		var desc struct {
			Instances []struct {
				State      string `json:"state"`
				LastReason string `json:"last_exit_reason"`
				OOMKilled  bool   `json:"oom_killed"`
				Restarts   int    `json:"restarts"`
				Memory     int64  `json:"memory_limit"`
			} `json:"instances"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &desc); err != nil {
			return fmt.Errorf("describe --json output is not JSON: %w\n%s", err, res.Stdout)
		}
		if len(desc.Instances) != 1 {
			return fmt.Errorf("describe --json lists %d instances, want 1:\n%s", len(desc.Instances), res.Stdout)
		}
		inst := desc.Instances[0]
		if inst.Memory != 64<<20 {
			t.Fatalf("memory limit = %d, want 64 MiB", inst.Memory)
		}
		// Once the engine runs the instance again, State.OOMKilled is no
		// longer the record; describe must still report the kill.
		if inst.State == "exited" || inst.Restarts < 1 || inst.LastReason != "OOMKilled" || !inst.OOMKilled {
			return errNotYet(fmt.Sprintf("a running instance that was OOM-killed: %+v", inst))
		}
		return nil
	})
	requireOutput(t, "describe", p.mustRun("describe", "app.0").Stdout, "OOMKilled", "Memory limit:", "64 MiB")
}

// testCleanExit runs an instance that exits with code 0 under on-failure:
// the engine does not restart it, and ps reports exited, not crashloop.
func testCleanExit(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.writeSupervision(supervisionVars{Restart: "on-failure:3",
		Env: map[string]string{"DEMO_EXIT_AFTER": "5s", "DEMO_EXIT_CODE": "0"}})
	p.mustRun("up")

	row := p.waitForRow(2*time.Minute, func(r supervisionRow) error {
		if r.State == "ready" || r.State == "starting" {
			return errNotYet("an exit")
		}
		return nil
	})
	if row.State != "exited" || row.ExitCode != 0 || row.Restarts != 0 || row.GaveUp {
		t.Errorf("row = %+v, want exited with code 0 and no restart", row)
	}
}

// testDrainingWhileStopping scales to zero an instance that ignores
// SIGTERM, so that its stop takes the whole stop_grace_period. While the
// engine stops it, ps reports draining, not ready.
func testDrainingWhileStopping(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.writeSupervision(supervisionVars{StopGrace: "30s", Env: map[string]string{"DEMO_IGNORE_SIGTERM": "1"}})
	p.mustRun("up")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	scaled := make(chan result, 1)
	go func() { scaled <- p.run(ctx, "scale", "app=0") }()

	p.waitForRow(time.Minute, func(r supervisionRow) error {
		if r.State != "draining" {
			return errNotYet("draining while the engine stops the instance")
		}
		return nil
	})
	if res := <-scaled; res.Code != 0 {
		t.Fatalf("scale app=0: %s", res)
	}
}
