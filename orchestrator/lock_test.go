package orchestrator

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

func TestLockHeld(t *testing.T) {
	t.Parallel()
	recent := time.Now().UTC().Format(time.RFC3339)
	old := time.Now().Add(-2 * lockStartTimeout).UTC().Format(time.RFC3339)
	lock := func(status string, running bool, since string) container.InspectResponse {
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{State: &container.State{Status: status, Running: running}},
			Config:            &container.Config{Labels: map[string]string{labelLockSince: since, labelLockHost: "elsewhere"}},
		}
	}
	tests := []struct {
		name string
		info container.InspectResponse
		want bool
	}{
		{"running", lock("running", true, old), true},
		{"created and starting", lock("created", false, recent), true},
		{"created and never started", lock("created", false, old), false},
		{"created without a time", lock("created", false, ""), false},
		{"exited", lock("exited", false, recent), false},
	}
	for _, tt := range tests {
		if got := lockHeld(tt.info); got != tt.want {
			t.Errorf("%s: lockHeld = %v, want %v", tt.name, got, tt.want)
		}
	}
}
