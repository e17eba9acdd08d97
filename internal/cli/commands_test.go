package cli

import (
	"testing"
	"time"

	"github.com/clusterctl/clusterctl/orchestrator"
)

func TestStateCell(t *testing.T) {
	started := time.Now()
	cases := []struct {
		name string
		row  orchestrator.InstanceStatus
		want string
	}{
		{"ready", orchestrator.InstanceStatus{State: orchestrator.StateReady, StartedAt: &started}, "ready"},
		{"exited", orchestrator.InstanceStatus{State: orchestrator.StateExited, StartedAt: &started, ExitCode: 3}, "exited (3)"},
		{"never started", orchestrator.InstanceStatus{State: orchestrator.StateExited}, "exited (never started)"},
		{"crashloop", orchestrator.InstanceStatus{State: orchestrator.StateCrashloop, StartedAt: &started, ExitCode: 1,
			Backoff: "restarting in 800ms"}, "crashloop (exit 1, restarting in 800ms)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := stateCell(tc.row); got != tc.want {
				t.Errorf("STATE = %q, want %q", got, tc.want)
			}
		})
	}
}
