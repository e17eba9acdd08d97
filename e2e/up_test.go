//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// webCompose is a demo worker service behind a front door, exporting to
// the collector on an external network.
const webCompose = `
name: {{.Project}}
x-clusterctl:
  otel:
    endpoint: http://otel-collector:4318
    protocol: http/protobuf
    resource_attributes:
      deployment.environment.name: e2e
services:
  web:
    build:
      context: {{.WorkerDir}}
    image: {{.Image}}
    ports:
      - "127.0.0.1:{{.Port}}:8080"
    environment:
      OTEL_METRIC_EXPORT_INTERVAL: "500"
      OTEL_BSP_SCHEDULE_DELAY: "200"
{{- range $k, $v := .ExtraEnv}}
      {{$k}}: "{{$v}}"
{{- end}}
    healthcheck:
      test: ["CMD", "/worker", "-healthcheck"]
      interval: 500ms
      timeout: 2s
      retries: 20
    stop_grace_period: 5s
    networks: [default, otel]
    x-clusterctl:
      instances: {{.Instances}}
networks:
  otel:
    external: true
    name: {{.OTelNet}}
`

func TestUp_ThreeInstancesBehindFrontDoor(t *testing.T) {
	col := startCollector(t)
	p := newProject(t)
	port := freeLoopbackPort(t)
	vars := composeVars{Port: port, OTelNet: col.Network, Instances: 3}
	p.writeCompose(webCompose, vars)

	p.mustRun("up")
	requireReadySlots(t, p.ps(), 3)

	url := loopbackURL(t, "127.0.0.1", port, "/")
	seen := instancesBehind(t, url, 60)
	if len(seen) != 3 {
		t.Errorf("requests through the front door reached %d instances, want 3: %v", len(seen), seen)
	}

	eventually(t, 60*time.Second, func() error {
		return checkTelemetry(t, col, p.Name, 3)
	})

	again := p.mustRun("up")
	if !strings.Contains(again.Stderr, "nothing to do") {
		t.Errorf("a second up did not say that nothing changed:\n%s", again.Stderr)
	}

	vars.Instances = 5
	p.writeCompose(webCompose, vars)
	p.mustRun("up")
	requireReadySlots(t, p.ps(), 5)
	if seen := instancesBehind(t, url, 100); len(seen) != 5 {
		t.Errorf("after scaling to 5, requests reached %d instances: %v", len(seen), seen)
	}

	p.mustRun("down")
	p.requireNothingLeft()
}

// requireReadySlots fails unless ps lists exactly count ready instances
// with slots 0..count-1.
func requireReadySlots(t testing.TB, rows []psRow, count int) {
	t.Helper()
	if len(rows) != count {
		t.Fatalf("ps lists %d instances, want %d: %+v", len(rows), count, rows)
	}
	var slots []int
	for _, r := range rows {
		slots = append(slots, r.Instance)
		if r.State != "ready" {
			t.Errorf("instance %s is %s, want ready", r.Name, r.State)
		}
		if r.Service != "web" {
			t.Errorf("instance %s has service %q, want web", r.Name, r.Service)
		}
	}
	slices.Sort(slots)
	for i, s := range slots {
		if s != i {
			t.Errorf("slots are %v, want 0..%d", slots, count-1)
			break
		}
	}
}

// instancesBehind sends n requests over one keep-alive client and returns
// the distinct instance IDs that answered. Any failed request fails the
// test.
func instancesBehind(t testing.TB, url string, n int) map[string]int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	seen := map[string]int{}
	for range n {
		reply, err := get(client, url)
		if err != nil {
			t.Fatalf("request through the front door: %v", err)
		}
		seen[reply.InstanceID]++
	}
	return seen
}

// checkTelemetry returns nil once the collector received spans from want
// distinct service.instance.id values of service web in the project.
func checkTelemetry(t testing.TB, col *collector, project string, want int) error {
	spans, metrics := col.resources(t)
	ids := map[string]bool{}
	for _, r := range append(spans, metrics...) {
		if r["service.namespace"] != project {
			continue
		}
		if r["service.name"] != "web" {
			return fmt.Errorf("service.name = %q, want web", r["service.name"])
		}
		if r["deployment.environment.name"] != "e2e" {
			return fmt.Errorf("deployment.environment.name = %q, want e2e", r["deployment.environment.name"])
		}
		ids[r["service.instance.id"]] = true
	}
	if len(ids) != want {
		return fmt.Errorf("telemetry from %d distinct service.instance.id values, want %d (spans %d, metrics %d)",
			len(ids), want, len(spans), len(metrics))
	}
	return nil
}
