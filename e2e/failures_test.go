//go:build e2e

package e2e

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// workerCompose is one demo worker service without a front door.
const workerCompose = `
name: {{.Project}}
services:
  app:
    build:
      context: {{.WorkerDir}}
    image: {{.Image}}
    environment:
      OTEL_SDK_DISABLED: "true"
{{- range $k, $v := .ExtraEnv}}
      {{$k}}: "{{$v}}"
{{- end}}
{{- if .Health}}
    healthcheck:
      test: ["CMD", "/worker", "-healthcheck"]
      interval: {{.HealthRate}}
      timeout: 1s
      retries: 3
{{- end}}
{{- if .Port}}
    ports:
      - "127.0.0.1:{{.Port}}:8080"
{{- end}}
    x-clusterctl:
      instances: {{.Instances}}
`

func TestUp_RuntimeFailures(t *testing.T) {
	cases := []struct {
		name string
		vars composeVars
		// busyPort makes the test hold the published port itself.
		busyPort bool
		want     []string
	}{
		{
			name: "image missing",
			vars: composeVars{Image: "clusterctl-e2e/absent:v0", Instances: 1},
			want: []string{"clusterctl-e2e/absent:v0", "does not pull", "build:"},
		},
		{
			name: "exits at once",
			vars: composeVars{Instances: 2, ExtraEnv: map[string]string{"DEMO_EXIT_AFTER": "100ms", "DEMO_EXIT_CODE": "3"}},
			want: []string{"exited with code 3", "exiting with code 3"},
		},
		{
			name: "never ready",
			vars: composeVars{Instances: 1, Health: true, HealthRate: "200ms", ExtraEnv: map[string]string{"DEMO_NEVER_READY": "1"}},
			want: []string{"not ready after", "last health output"},
		},
		{
			name:     "host port in use",
			vars:     composeVars{Instances: 2, Health: true, HealthRate: "500ms"},
			busyPort: true,
			want:     []string{"already in use"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProject(t)
			vars := tc.vars
			if tc.busyPort {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				vars.Port = ln.Addr().(*net.TCPAddr).Port
				tc.want = append(tc.want, ln.Addr().String())
			}
			if strings.Contains(tc.name, "image missing") {
				p.writeCompose(strings.Replace(workerCompose, "    build:\n      context: {{.WorkerDir}}\n", "", 1), vars)
			} else {
				p.writeCompose(workerCompose, vars)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			res := p.run(ctx, "up")
			if res.Code != 1 {
				t.Fatalf("up: want exit code 1, got %s", res)
			}
			for _, want := range tc.want {
				if !strings.Contains(res.Stderr, want) {
					t.Errorf("stderr does not contain %q:\n%s", want, res.Stderr)
				}
			}
			p.requireNothingLeft()
		})
	}
}

func TestUp_BadInputExitsTwo(t *testing.T) {
	cases := []struct {
		name    string
		compose string
		// args follow the command, which is up unless command is set.
		command string
		args    []string
		want    []string
	}{
		{
			name:    "unknown extension key",
			compose: "services:\n  app:\n    image: " + workerImage + "\n    x-clusterctl:\n      instancez: 2\n",
			want:    []string{"instancez", "compose.yaml"},
		},
		{
			name:    "unknown service on the command line",
			compose: "services:\n  app:\n    image: " + workerImage + "\n",
			args:    []string{"nosuch"},
			want:    []string{"nosuch", "app"},
		},
		{
			name:    "unknown service in ps",
			compose: "services:\n  app:\n    image: " + workerImage + "\n",
			command: "ps",
			args:    []string{"app", "nosuch"},
			want:    []string{`no service "nosuch"`, "known services are app"},
		},
		{
			name:    "unknown instance in logs",
			compose: "services:\n  app:\n    image: " + workerImage + "\n",
			command: "logs",
			args:    []string{"nosuch.0"},
			want:    []string{`"nosuch.0"`, "known services are app", "SERVICE.SLOT"},
		},
		{
			name:    "unknown instance in describe",
			compose: "services:\n  app:\n    image: " + workerImage + "\n",
			command: "describe",
			args:    []string{"app.x"},
			want:    []string{`"app.x"`, "known services are app"},
		},
		{
			name:    "invalid yaml",
			compose: "services:\n  app:\n    image: x\n   bad: [\n",
			want:    []string{"compose.yaml", "line"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProject(t)
			p.writeCompose("name: {{.Project}}\n"+tc.compose, composeVars{})
			command := cmp.Or(tc.command, "up")
			res := p.run(context.Background(), append([]string{command}, tc.args...)...)
			if res.Code != 2 {
				t.Fatalf("want exit code 2, got %s", res)
			}
			for _, want := range tc.want {
				if !strings.Contains(res.Stderr, want) {
					t.Errorf("stderr does not contain %q:\n%s", want, res.Stderr)
				}
			}
			p.requireNothingLeft()
		})
	}
}

// TestUp_InterruptCleansUp sends SIGINT while up waits for an instance
// that is slow to become ready: up must exit 130 and remove what it made.
func TestUp_InterruptCleansUp(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.writeCompose(workerCompose, composeVars{Instances: 2, Health: true, HealthRate: "500ms",
		ExtraEnv: map[string]string{"DEMO_READY_AFTER": "5m"}})
	cmd := exec.Command(clusterctlBin, "--progress", "plain", "up")
	cmd.Dir = p.Dir
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, func() error {
		if strings.Count(stderr.String(), " started ") >= 2 {
			return nil
		}
		return errNotYet("instances started")
	})
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	}
	if code != 130 {
		t.Fatalf("want exit code 130 after SIGINT, got %d\n%s", code, stderr.String())
	}
	p.requireNothingLeft()
}

type errNotYet string

func (e errNotYet) Error() string { return "not yet: " + string(e) }

// syncBuffer is a bytes.Buffer that a running command writes while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
