package orchestrator

import (
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/clusterctl/clusterctl/compose"
	"github.com/clusterctl/clusterctl/internal/frontdoor"
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

func TestUp_ProbesInstanceOutsideRotation(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, events := newTestOrchestrator(engine)
	p := testProject(2, true)
	p.Services[0].Config.HealthCheck = nil
	p.Services[0].Ready = &compose.ReadyProbe{HTTPPath: "/healthz", Port: 8080}
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	rows, err := o.PS(t.Context(), "shop", nil)
	if err != nil || len(rows) != 2 {
		t.Fatalf("PS = %+v, %v; want 2 rows", rows, err)
	}

	// An interrupted run left slot 1 running, long enough for its uptime,
	// but never probed: the front door serves slot 0 alone.
	engine.mu.Lock()
	engine.inspectHook = func(_ string, info *container.InspectResponse) {
		if info.State != nil && info.State.Running {
			info.State.StartedAt = time.Now().Add(-time.Minute).Format(time.RFC3339Nano)
		}
	}
	engine.frontDoorStatus = func(string) frontdoor.StatusReport {
		return frontdoor.StatusReport{Backends: []frontdoor.BackendStatus{{Backend: frontdoor.Backend{ID: rows[0].ID}}}}
	}
	engine.mu.Unlock()
	*events = nil
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("second Up: %v", err)
	}

	probed := map[int]bool{}
	for _, e := range *events {
		if e.Kind == EventReady && strings.HasPrefix(e.Message, "probe passed") {
			probed[e.Slot] = true
		}
	}
	if !probed[1] {
		t.Errorf("events = %+v, want slot 1 probed before it serves", *events)
	}
	if probed[0] {
		t.Errorf("slot 0 was probed again although its front door serves it")
	}
}

func TestProbeTimeout(t *testing.T) {
	cases := map[time.Duration]time.Duration{
		60 * time.Second:       57 * time.Second,
		8 * time.Second:        6 * time.Second,
		time.Second:            500 * time.Millisecond,
		300 * time.Millisecond: 150 * time.Millisecond,
	}
	for deadline, want := range cases {
		if got := probeTimeout(deadline); got != want {
			t.Errorf("probeTimeout(%s) = %s, want %s", deadline, got, want)
		}
	}
}
