package orchestrator

import (
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/clusterctl/clusterctl/compose"
)

func TestUp_ReadyProbeGate(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, events := newTestOrchestrator(engine)
	p := testProject(1, false)
	p.Services[0].Config.HealthCheck = nil
	p.Services[0].Ready = &compose.ReadyProbe{HTTPPath: "/healthz", Port: 8080}

	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}

	var passed bool
	for _, e := range *events {
		passed = passed || (e.Kind == EventReady && strings.HasPrefix(e.Message, "probe passed"))
	}
	if !passed {
		t.Errorf("events = %+v, want the probe to pass", *events)
	}
	if names := engine.names(); len(names) != 1 || !strings.HasPrefix(names[0], "shop-web-0-") {
		t.Errorf("containers = %v, want the instance alone once its probe is removed", names)
	}
}

func TestNextPoll(t *testing.T) {
	t.Parallel()
	startedAgo := func(d time.Duration) container.InspectResponse {
		return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{
			State: &container.State{StartedAt: time.Now().Add(-d).Format(time.RFC3339Nano)}}}
	}
	uptime := gate{kind: "uptime", minUptime: time.Second}
	if got := nextPoll(uptime, startedAgo(100*time.Millisecond)); got < 800*time.Millisecond || got > 950*time.Millisecond {
		t.Errorf("uptime gate 900ms from its end: nextPoll = %s, want the remaining time", got)
	}
	if got := nextPoll(uptime, startedAgo(950*time.Millisecond)); got >= pollInterval || got <= 0 {
		t.Errorf("uptime gate 50ms from its end: nextPoll = %s, want less than %s", got, pollInterval)
	}
	long := gate{kind: "uptime", minUptime: time.Minute}
	if got := nextPoll(long, startedAgo(time.Second)); got != uptimePollLimit {
		t.Errorf("uptime gate a minute from its end: nextPoll = %s, want %s", got, uptimePollLimit)
	}
	if got := nextPoll(uptime, startedAgo(2*time.Second)); got != pollInterval {
		t.Errorf("uptime gate passed: nextPoll = %s, want %s", got, pollInterval)
	}
	if got := nextPoll(gate{kind: "healthcheck"}, startedAgo(950*time.Millisecond)); got != pollInterval {
		t.Errorf("healthcheck gate: nextPoll = %s, want %s", got, pollInterval)
	}
}
