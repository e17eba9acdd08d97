package main

import (
	"maps"
	"strings"
	"testing"
	"time"
)

// envOf returns a getenv function that reads vars.
func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestLoadConfig_Defaults(t *testing.T) {
	t.Parallel()

	cfg, err := loadConfig(envOf(nil), "host-a")
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}

	if cfg.port != "8080" {
		t.Errorf("port = %q, want 8080", cfg.port)
	}
	if cfg.instanceID != "host-a" {
		t.Errorf("instanceID = %q, want the hostname host-a", cfg.instanceID)
	}
	if cfg.version != "dev" {
		t.Errorf("version = %q, want dev", cfg.version)
	}
	if cfg.slot != nil {
		t.Errorf("slot = %d, want nil", *cfg.slot)
	}
	if cfg.exitCode != 1 {
		t.Errorf("exitCode = %d, want 1", cfg.exitCode)
	}
	if cfg.exitAfter != 0 || cfg.readyAfter != 0 || cfg.crashAfterReady != 0 {
		t.Errorf("durations = %s %s %s, want all 0", cfg.exitAfter, cfg.readyAfter, cfg.crashAfterReady)
	}
	if cfg.neverReady || cfg.ignoreSIGTERM || cfg.allocMBPerSec != 0 {
		t.Errorf("knobs on by default: %+v", cfg)
	}
}

func TestLoadConfig_AllVariables(t *testing.T) {
	t.Parallel()

	cfg, err := loadConfig(envOf(map[string]string{
		"PORT":              "9090",
		"OTEL_SERVICE_NAME": "web",
		"OTEL_RESOURCE_ATTRIBUTES": "service.namespace=demo,service.instance.id=web-1-abc," +
			"service.version=v7",
		"CLUSTERCTL_INSTANCE":    "1",
		"DEMO_VERSION":           "v1",
		"DEMO_EXIT_AFTER":        "3s",
		"DEMO_EXIT_CODE":         "0",
		"DEMO_READY_AFTER":       "500ms",
		"DEMO_NEVER_READY":       "1",
		"DEMO_IGNORE_SIGTERM":    "true",
		"DEMO_CRASH_AFTER_READY": "2s",
		"DEMO_ALLOC_MB_PER_SEC":  "64",
	}), "host-a")
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}

	want := config{
		port: "9090", service: "web", instanceID: "web-1-abc", version: "v7", hostname: "host-a",
		exitAfter: 3 * time.Second, exitCode: 0, readyAfter: 500 * time.Millisecond,
		neverReady: true, ignoreSIGTERM: true, crashAfterReady: 2 * time.Second, allocMBPerSec: 64,
	}
	if cfg.slot == nil || *cfg.slot != 1 {
		t.Errorf("slot = %v, want 1", cfg.slot)
	}
	cfg.slot = nil
	if cfg != want {
		t.Errorf("config = %+v\nwant     %+v", cfg, want)
	}
}

func TestLoadConfig_DemoVersionWithoutServiceVersion(t *testing.T) {
	t.Parallel()

	cfg, err := loadConfig(envOf(map[string]string{
		"OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=x",
		"DEMO_VERSION":             "v2",
	}), "host-a")
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}

	if cfg.version != "v2" {
		t.Errorf("version = %q, want DEMO_VERSION v2", cfg.version)
	}
}

func TestLoadConfig_InvalidVariable(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		value string
	}{
		{"PORT", "http"},
		{"PORT", "0"},
		{"PORT", "65536"},
		{"CLUSTERCTL_INSTANCE", "-1"},
		{"CLUSTERCTL_INSTANCE", "one"},
		{"DEMO_EXIT_AFTER", "5"},
		{"DEMO_EXIT_AFTER", "-1s"},
		{"DEMO_READY_AFTER", "soon"},
		{"DEMO_CRASH_AFTER_READY", "1x"},
		{"DEMO_EXIT_CODE", "256"},
		{"DEMO_EXIT_CODE", "-1"},
		{"DEMO_ALLOC_MB_PER_SEC", "lots"},
		{"DEMO_NEVER_READY", "yes"},
		{"DEMO_IGNORE_SIGTERM", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Parallel()

			_, err := loadConfig(envOf(map[string]string{tt.name: tt.value}), "host-a")
			if err == nil {
				t.Fatalf("loadConfig with %s=%q: got nil error", tt.name, tt.value)
			}
			if !strings.Contains(err.Error(), tt.name) {
				t.Errorf("error %q does not name %s", err, tt.name)
			}
		})
	}
}

func TestLoadConfig_JoinsErrors(t *testing.T) {
	t.Parallel()

	_, err := loadConfig(envOf(map[string]string{
		"PORT":            "x",
		"DEMO_EXIT_AFTER": "y",
	}), "host-a")
	if err == nil {
		t.Fatal("got nil error")
	}

	for _, name := range []string{"PORT", "DEMO_EXIT_AFTER"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func TestParseResourceAttributes_Values(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		value string
		want  map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"one pair", "a=b", map[string]string{"a": "b"}},
		{"spaces trimmed", " a = b , c=d ", map[string]string{"a": "b", "c": "d"}},
		{"percent decoded", "a=x%2Cy%3Dz%20w", map[string]string{"a": "x,y=z w"}},
		{"invalid escape kept", "a=100%", map[string]string{"a": "100%"}},
		{"pair without equals skipped", "a,b=c", map[string]string{"b": "c"}},
		{"empty key skipped", "=x,b=c", map[string]string{"b": "c"}},
		{"equals in value", "a=b=c", map[string]string{"a": "b=c"}},
		{"last duplicate wins", "a=1,a=2", map[string]string{"a": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := parseResourceAttributes(tt.value)
			if !maps.Equal(got, tt.want) {
				t.Errorf("parseResourceAttributes(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}
