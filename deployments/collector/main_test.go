package main

import (
	"slices"
	"testing"

	"go.opentelemetry.io/collector/component"
)

func TestRun_ValidatesEmbeddedConfig(t *testing.T) {
	err := run([]string{"validate", "--config=yaml:" + defaultConfig})
	if err != nil {
		t.Fatalf("embedded config is invalid: %v", err)
	}
}

func TestRun_RejectsUnknownExporter(t *testing.T) {
	err := run([]string{
		"validate",
		"--config=yaml:" + defaultConfig,
		"--set=service.pipelines.logs.exporters=[nosuch]",
	})
	if err == nil {
		t.Fatal("validate with an unknown exporter: got nil error")
	}
}

func TestComponents_ContainsDistribution(t *testing.T) {
	factories, err := components()
	if err != nil {
		t.Fatalf("components: %v", err)
	}

	tests := []struct {
		kind  string
		names []string
		want  string
	}{
		{"receiver", typeNames(factories.Receivers), "otlp"},
		{"processor", typeNames(factories.Processors), "batch"},
		{"exporter", typeNames(factories.Exporters), "debug"},
		{"exporter", typeNames(factories.Exporters), "file"},
	}
	for _, tt := range tests {
		if !slices.Contains(tt.names, tt.want) {
			t.Errorf("%s %q missing; have %v", tt.kind, tt.want, tt.names)
		}
	}
}

func TestWithDefaultConfig_Args(t *testing.T) {
	t.Parallel()

	embedded := "--config=yaml:" + defaultConfig
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no args", nil, []string{embedded}},
		{"set only", []string{"--set=a.b=c"}, []string{embedded, "--set=a.b=c"}},
		{"config with equals", []string{"--config=file:/c.yaml"}, []string{"--config=file:/c.yaml"}},
		{"config as two args", []string{"--config", "/c.yaml"}, []string{"--config", "/c.yaml"}},
		{"single dash config", []string{"-config=/c.yaml"}, []string{"-config=/c.yaml"}},
		{"subcommand", []string{"components"}, []string{"components"}},
		{"similar flag name", []string{"--configx=1"}, []string{embedded, "--configx=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := withDefaultConfig(tt.args)
			if !slices.Equal(got, tt.want) {
				t.Errorf("withDefaultConfig(%q) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

func typeNames[T any](factories map[component.Type]T) []string {
	names := make([]string, 0, len(factories))
	for typ := range factories {
		names = append(names, typ.String())
	}

	return names
}
