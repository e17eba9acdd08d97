package orchestrator

import (
	"testing"

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
}
