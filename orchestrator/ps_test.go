package orchestrator

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/clusterctl/clusterctl/compose"
	"github.com/clusterctl/clusterctl/internal/frontdoor"
)

func TestPS_DrainingInFrontDoor(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	if err := o.Up(t.Context(), testProject(2, true), UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	before, err := o.PS(t.Context(), "shop", nil)
	if err != nil {
		t.Fatalf("PS: %v", err)
	}
	if len(before) != 2 || before[0].State != StateReady || before[1].State != StateReady {
		t.Fatalf("rows before the drain = %+v, want two ready instances", before)
	}

	drained := before[1].ID
	engine.mu.Lock()
	engine.frontDoorStatus = func(string) frontdoor.StatusReport {
		return frontdoor.StatusReport{Backends: []frontdoor.BackendStatus{
			{Backend: frontdoor.Backend{ID: before[0].ID, Slot: 0}},
			{Backend: frontdoor.Backend{ID: drained, Slot: 1}, Draining: true, InFlight: 1},
		}}
	}
	engine.mu.Unlock()
	rows, err := o.PS(t.Context(), "shop", nil)

	if err != nil {
		t.Fatalf("PS: %v", err)
	}
	if rows[0].State != StateReady {
		t.Errorf("web.0 state = %q, want ready", rows[0].State)
	}
	if rows[1].ID != drained || rows[1].State != StateDraining {
		t.Errorf("web.1 %s state = %q, want draining", rows[1].ID, rows[1].State)
	}

	// Added back while its earlier requests drain, web.1 serves again.
	engine.mu.Lock()
	engine.frontDoorStatus = func(string) frontdoor.StatusReport {
		return frontdoor.StatusReport{Backends: []frontdoor.BackendStatus{
			{Backend: frontdoor.Backend{ID: before[0].ID, Slot: 0}},
			{Backend: frontdoor.Backend{ID: drained, Slot: 1}},
			{Backend: frontdoor.Backend{ID: drained, Slot: 1}, Draining: true, InFlight: 1},
		}}
	}
	engine.mu.Unlock()
	rows, err = o.PS(t.Context(), "shop", nil)
	if err != nil {
		t.Fatalf("PS: %v", err)
	}
	if rows[1].State != StateReady {
		t.Errorf("web.1 back in rotation: state = %q, want ready", rows[1].State)
	}
}

func TestPS_ProbeGatedReadyWhileServed(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(2, true)
	p.Services[0].Config.HealthCheck = nil
	p.Services[0].Ready = &compose.ReadyProbe{HTTPPath: "/healthz", Port: 8080}
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	before, err := o.PS(t.Context(), "shop", nil)
	if err != nil || len(before) != 2 {
		t.Fatalf("PS = %+v, %v; want 2 rows", before, err)
	}

	// Slot 0 passed its probe and is served; slot 1 has run for a minute
	// without passing it.
	engine.mu.Lock()
	engine.inspectHook = func(_ string, info *container.InspectResponse) {
		if info.State != nil && info.State.Running {
			info.State.StartedAt = time.Now().Add(-time.Minute).Format(time.RFC3339Nano)
		}
	}
	engine.frontDoorStatus = func(string) frontdoor.StatusReport {
		return frontdoor.StatusReport{Backends: []frontdoor.BackendStatus{{Backend: frontdoor.Backend{ID: before[0].ID}}}}
	}
	engine.mu.Unlock()
	rows, err := o.PS(t.Context(), "shop", nil)

	if err != nil {
		t.Fatalf("PS: %v", err)
	}
	if rows[0].State != StateReady {
		t.Errorf("web.0 state = %q, want ready while its front door serves it", rows[0].State)
	}
	if rows[1].State != StateStarting {
		t.Errorf("web.1 state = %q, want starting until its probe passes", rows[1].State)
	}
}
