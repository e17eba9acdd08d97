package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/clusterctl/clusterctl/compose"
	"github.com/clusterctl/clusterctl/orchestrator"
)

func TestResolveService_PerSlot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	content := `name: shop
services:
  web:
    image: app:1.2
    environment: {MODE: prod}
    labels: {team: core}
    depends_on:
      migrate: {condition: service_completed_successfully}
    x-clusterctl: {instances: 2, instance_var: NODE_APP_INSTANCE}
  migrate:
    image: app:1.2
`
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(t.Context(), compose.Options{Files: []string{file}, Environ: []string{}})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	web, _ := p.Service("web")
	migrate, _ := p.Service("migrate")

	got, err := resolveService(p, web, 1)
	if err != nil {
		t.Fatalf("resolveService: %v", err)
	}

	if got.Instances != 2 || len(got.Slots) != 2 {
		t.Fatalf("instances = %d with %d slots, want 2 and 2", got.Instances, len(got.Slots))
	}
	for slot, inst := range got.Slots {
		if inst.Slot != slot {
			t.Errorf("slot %d reports slot %d", slot, inst.Slot)
		}
		if want := "shop-web-" + string(rune('0'+slot)) + "-<id>"; inst.Name != want {
			t.Errorf("slot %d name = %q, want %q", slot, inst.Name, want)
		}
		for _, want := range []string{"MODE=prod", "CLUSTERCTL_INSTANCE=" + string(rune('0'+slot)), "CLUSTERCTL_INSTANCES=2",
			"NODE_APP_INSTANCE=" + string(rune('0'+slot)), "CLUSTERCTL_REVISION=" + placeholderRevision} {
			if !slices.Contains(inst.Environment, want) {
				t.Errorf("slot %d environment lacks %s: %v", slot, want, inst.Environment)
			}
		}
		for key, want := range map[string]string{
			"team": "core", orchestrator.LabelProject: "shop", orchestrator.LabelService: "web",
			orchestrator.LabelInstance: string(rune('0' + slot)), orchestrator.LabelCount: "2",
			orchestrator.LabelRevision: placeholderRevision, orchestrator.LabelSpec: placeholderTemplate,
		} {
			if inst.Labels[key] != want {
				t.Errorf("slot %d label %s = %q, want %q", slot, key, inst.Labels[key], want)
			}
		}
	}

	oneShot, err := resolveService(p, migrate, 1)
	if err != nil {
		t.Fatalf("resolveService migrate: %v", err)
	}
	if !oneShot.OneShot {
		t.Error("migrate is not reported as one-shot")
	}

	for name, encode := range map[string]func(any) ([]byte, error){"json": json.Marshal, "yaml": yaml.Marshal} {
		data, err := encode(got)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, key := range []string{"slots", "name", "environment", "labels"} {
			if !strings.Contains(string(data), key) {
				t.Errorf("%s output lacks %q:\n%s", name, key, data)
			}
		}
	}
}

func TestConfig_OutputLoadsWithSameSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	content := `name: shop
x-clusterctl:
  otel: {enabled: false}
services:
  web:
    image: app:1.2
    ports: ["127.0.0.1:8080:80"]
    x-clusterctl: {instances: 2, drain_timeout: 2s, proxy: {mode: tcp, port: 80}}
`
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"clusterctl", "-f", file, "config"}, &stdout, &stderr); code != ExitOK {
		t.Fatalf("config: exit code %d\n%s", code, stderr.String())
	}
	again := filepath.Join(dir, "resolved.yaml")
	if err := os.WriteFile(again, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	p, err := compose.Load(t.Context(), compose.Options{Files: []string{again}, Environ: []string{}})

	if err != nil {
		t.Fatalf("Load of the config output: %v", err)
	}
	web, _ := p.Service("web")
	if web.Instances.Fixed != 2 {
		t.Errorf("instances = %+v, want 2", web.Instances)
	}
	if web.Proxy == nil || web.Proxy.Mode != "tcp" {
		t.Errorf("front door = %+v, want mode tcp", web.Proxy)
	}
	if web.OTel.Enabled {
		t.Errorf("otel enabled, want the top-level enabled: false kept")
	}
}
