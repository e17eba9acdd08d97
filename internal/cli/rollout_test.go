package cli

import (
	"testing"

	"github.com/clusterctl/clusterctl/orchestrator"
)

func TestStatusCounts(t *testing.T) {
	cases := []struct {
		name                string
		row                 orchestrator.ServiceStatus
		upToDate, instances string
	}{
		{"as in the file", orchestrator.ServiceStatus{Desired: 3, Running: 3, UpToDate: 2}, "2/3", "3"},
		{"scaled up", orchestrator.ServiceStatus{Desired: 3, Running: 5, UpToDate: 5}, "5/5", "5 (file: 3)"},
		{"scaled down", orchestrator.ServiceStatus{Desired: 3, Running: 1, UpToDate: 0}, "0/1", "1 (file: 3)"},
		{"nothing runs", orchestrator.ServiceStatus{Desired: 2}, "0/2", "0 (file: 2)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			upToDate, instances := statusCounts(tc.row)
			if upToDate != tc.upToDate {
				t.Errorf("UP TO DATE = %q, want %q", upToDate, tc.upToDate)
			}
			if instances != tc.instances {
				t.Errorf("INSTANCES = %q, want %q", instances, tc.instances)
			}
		})
	}
}
