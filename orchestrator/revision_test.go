package orchestrator

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/clusterctl/clusterctl/compose"
)

// revisionFiles are compose files whose revisions are pinned, so that a
// change to the translation that would replace running instances of an
// unchanged file fails here.
var revisionFiles = map[string]struct{ compose, want string }{
	"front door with healthcheck": {compose: `name: pinned
services:
  web:
    image: app:v1
    ports:
      - "127.0.0.1:8080:8080"
    environment:
      OTEL_METRIC_EXPORT_INTERVAL: "500"
    healthcheck:
      test: ["CMD", "/worker", "-healthcheck"]
      interval: 500ms
      timeout: 2s
      retries: 20
    stop_grace_period: 5s
    networks: [default, otel]
    x-clusterctl:
      instances: 3
networks:
  otel:
    external: true
    name: otel-net
`, want: "5ecbc6a6340e"},
	"many container settings": {compose: `name: pinned
services:
  api:
    image: app:v1
    command: ["serve", "--port", "80"]
    entrypoint: /app
    user: "1000:1000"
    working_dir: /srv
    labels: {team: core}
    restart: on-failure:3
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    security_opt: [no-new-privileges:true]
    read_only: true
    init: true
    sysctls: {net.core.somaxconn: "1024"}
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    tmpfs: [/tmp:size=64m]
    shm_size: 64m
    extra_hosts: ["db.local:10.0.0.5"]
    dns: [10.0.0.2]
    dns_search: [example.internal]
    logging:
      driver: json-file
      options: {max-size: 10m}
    volumes:
      - data:/data
      - type: tmpfs
        target: /cache
        tmpfs: {size: 1048576}
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 128M, pids: 100}
        reservations: {memory: 64M}
    x-clusterctl:
      proxy: false
volumes:
  data: {}
`, want: "7aa5fa7870d8"},
}

func TestTemplate_RevisionStable(t *testing.T) {
	t.Parallel()
	for name, tc := range revisionFiles {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(tc.compose), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := compose.Load(t.Context(), compose.Options{WorkingDir: dir, Environ: []string{}})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tmpl, _, err := NewTemplate(p, &p.Services[0], "sha256:app1", "1.0")
			if err != nil {
				t.Fatalf("NewTemplate: %v", err)
			}
			if tmpl.Revision != tc.want {
				t.Errorf("revision = %s, want %s", tmpl.Revision, tc.want)
			}
		})
	}
}
