package orchestrator

import (
	"errors"
	"strings"
	"testing"

	"github.com/clusterctl/clusterctl/compose"
)

func TestCheckTargets(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	if err := o.Up(t.Context(), testProject(2, false), UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	var instance string
	for _, name := range engine.names() {
		if strings.HasPrefix(name, "shop-web-1-") {
			instance = name
		}
	}
	if instance == "" {
		t.Fatalf("no container of web.1 among %v", engine.names())
	}

	tests := []struct {
		name      string
		file      []string
		targets   []string
		instances bool
		// unknown is the quoted list the error names, or "" for no error.
		unknown string
	}{
		{name: "no targets", targets: nil},
		{name: "service on the engine", targets: []string{"web"}},
		{name: "service in the file only", file: []string{"web", "worker"}, targets: []string{"worker"}},
		{name: "unknown service", file: []string{"web"}, targets: []string{"web", "wbe"}, unknown: `"wbe"`},
		{name: "slot is no service", targets: []string{"web.1"}, unknown: `"web.1"`},
		{name: "slot of a service", targets: []string{"web.1", "web.9"}, instances: true},
		{name: "container name", targets: []string{instance}, instances: true},
		{name: "slot of an unknown service", targets: []string{"api.0", "web.x", "web.-1"}, instances: true,
			unknown: `"api.0", "web.x", "web.-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := o.CheckTargets(t.Context(), "shop", tt.file, tt.targets, tt.instances)

			if tt.unknown == "" {
				if err != nil {
					t.Fatalf("CheckTargets: %v", err)
				}
				return
			}
			if !errors.Is(err, compose.ErrInvalid) {
				t.Fatalf("error = %v, want one that wraps compose.ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), " "+tt.unknown+" in project shop") {
				t.Errorf("error = %q, want it to name %s", err, tt.unknown)
			}
			if !strings.Contains(err.Error(), "known services are web") {
				t.Errorf("error = %q, want it to list the known services", err)
			}
		})
	}
}

func TestCheckTargets_HistoryAndEmptyProject(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	if err := o.Up(t.Context(), testProject(1, false), UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if err := o.Down(t.Context(), "shop", DownOptions{}); err != nil {
		t.Fatalf("Down: %v", err)
	}

	if err := o.CheckTargets(t.Context(), "shop", nil, []string{"web"}, false); err != nil {
		t.Errorf("a service with rollout history only: %v", err)
	}
	err := o.CheckTargets(t.Context(), "other", nil, []string{"web"}, false)
	if err == nil || !strings.Contains(err.Error(), "check -f and -p") {
		t.Errorf("error = %v, want one that points at -f and -p", err)
	}
}
