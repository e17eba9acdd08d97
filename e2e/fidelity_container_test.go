//go:build e2e

package e2e

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/strslice"
)

// containerHeader starts every compose file of the fidelity tests: no
// telemetry export, and a short min_uptime so that instances without a
// healthcheck are ready soon.
const containerHeader = `name: {{.Project}}
x-clusterctl:
  otel:
    enabled: false
  min_uptime: 300ms
services:
`

// containerWorker is the build section of a demo worker service.
const containerWorker = `    build:
      context: {{.WorkerDir}}
    image: {{.Image}}
`

// containerCase is one group of compose fields: a compose file, the files
// it refers to, and checks against the engine's own inspect view of the
// instances after up.
type containerCase struct {
	name    string
	compose string
	files   map[string]string
	check   func(t *testing.T, p containerProject, up result)
}

func TestContainerFidelity_Fields(t *testing.T) {
	cases := []containerCase{
		{
			name: "process",
			compose: `  web:
` + containerWorker + `    entrypoint: ["/worker"]
    command: serve now
    user: "10001:10001"
    working_dir: /
    tty: true
    stdin_open: true
    labels:
      com.example.team: core
    environment:
      FROM_FILE_OVERRIDDEN: from-environment
      PLAIN: "1"
    env_file:
      - ./app.env
      - path: ./missing.env
        required: false
    x-clusterctl:
      instances: 2
`,
			files: map[string]string{"app.env": "FROM_FILE=file-value\nFROM_FILE_OVERRIDDEN=file-value\n"},
			check: func(t *testing.T, p containerProject, _ result) {
				instances := p.inspectService(t, "web", 2)
				for _, c := range instances {
					cfg := c.Config
					fieldEqual(t, c.Name+" Entrypoint", cfg.Entrypoint, strslice.StrSlice{"/worker"})
					fieldEqual(t, c.Name+" Cmd", cfg.Cmd, strslice.StrSlice{"serve", "now"})
					fieldEqual(t, c.Name+" User", cfg.User, "10001:10001")
					fieldEqual(t, c.Name+" WorkingDir", cfg.WorkingDir, "/")
					fieldEqual(t, c.Name+" Tty", cfg.Tty, true)
					fieldEqual(t, c.Name+" OpenStdin", cfg.OpenStdin, true)
					fieldEqual(t, c.Name+" label", cfg.Labels["com.example.team"], "core")
					for _, want := range []string{"PLAIN=1", "FROM_FILE=file-value", "FROM_FILE_OVERRIDDEN=from-environment"} {
						if !slices.Contains(cfg.Env, want) {
							t.Errorf("%s Env = %v, want %s", c.Name, cfg.Env, want)
						}
					}
				}
			},
		},
		{
			name: "resources",
			compose: `  web:
` + containerWorker + `    cpu_shares: 512
    shm_size: 16m
    oom_score_adj: 100
    ulimits:
      nofile:
        soft: 1024
        hard: 2048
      nproc: 512
    deploy:
      resources:
        limits:
          cpus: "0.5"
          memory: 64M
          pids: 100
        reservations:
          memory: 32M
`,
			check: func(t *testing.T, p containerProject, _ result) {
				host := p.inspectService(t, "web", 1)[0].HostConfig
				fieldEqual(t, "NanoCPUs", host.NanoCPUs, int64(5e8))
				fieldEqual(t, "Memory", host.Memory, int64(64<<20))
				fieldEqual(t, "MemoryReservation", host.MemoryReservation, int64(32<<20))
				fieldEqual(t, "PidsLimit", valueOf(host.PidsLimit), int64(100))
				fieldEqual(t, "CPUShares", host.CPUShares, int64(512))
				fieldEqual(t, "ShmSize", host.ShmSize, int64(16<<20))
				fieldEqual(t, "OomScoreAdj", host.OomScoreAdj, 100)
				fieldEqual(t, "Ulimits", host.Ulimits, []*container.Ulimit{
					{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "nproc", Soft: 512, Hard: 512}})
				fieldEqual(t, "Devices", len(host.Devices), 0)
			},
		},
		{
			name: "security",
			compose: `  web:
` + containerWorker + `    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE]
    security_opt: ["no-new-privileges:true"]
    read_only: true
    sysctls:
      net.core.somaxconn: 1024
  admin:
` + containerWorker + `    privileged: true
    init: true
`,
			check: func(t *testing.T, p containerProject, _ result) {
				host := p.inspectService(t, "web", 1)[0].HostConfig
				fieldEqual(t, "CapDrop", host.CapDrop, strslice.StrSlice{"CAP_ALL"}, strslice.StrSlice{"ALL"})
				fieldEqual(t, "CapAdd", host.CapAdd, strslice.StrSlice{"CAP_NET_BIND_SERVICE"}, strslice.StrSlice{"NET_BIND_SERVICE"})
				fieldEqual(t, "SecurityOpt", host.SecurityOpt, []string{"no-new-privileges:true"})
				fieldEqual(t, "ReadonlyRootfs", host.ReadonlyRootfs, true)
				fieldEqual(t, "Sysctls", host.Sysctls, map[string]string{"net.core.somaxconn": "1024"})
				fieldEqual(t, "web Privileged", host.Privileged, false)

				admin := p.inspectService(t, "admin", 1)[0].HostConfig
				fieldEqual(t, "admin Privileged", admin.Privileged, true)
				fieldEqual(t, "admin Init", valueOf(admin.Init), true)
			},
		},
		{
			name: "network",
			compose: `  web:
` + containerWorker + `    hostname: web-host
    domainname: example.internal
    dns: [127.0.0.1]
    dns_search: [example.internal]
    dns_opt: ["ndots:2"]
    extra_hosts:
      - "db.internal=127.0.0.1"
    networks:
      front:
        aliases: [web-front]
      back:
        aliases: [web-back]
        ipv4_address: {{.Subnet}}.10
        priority: 10
  isolated:
` + containerWorker + `    network_mode: none
networks:
  front: {}
  back:
    ipam:
      config:
        - subnet: {{.Subnet}}.0/24
`,
			check: func(t *testing.T, p containerProject, _ result) {
				web := p.inspectService(t, "web", 1)[0]
				fieldEqual(t, "Hostname", web.Config.Hostname, "web-host")
				fieldEqual(t, "Domainname", web.Config.Domainname, "example.internal")
				fieldEqual(t, "DNS", web.HostConfig.DNS, []string{"127.0.0.1"})
				fieldEqual(t, "DNSSearch", web.HostConfig.DNSSearch, []string{"example.internal"})
				fieldEqual(t, "DNSOptions", web.HostConfig.DNSOptions, []string{"ndots:2"})
				fieldEqual(t, "ExtraHosts", web.HostConfig.ExtraHosts, []string{"db.internal:127.0.0.1"})

				networks := web.NetworkSettings.Networks
				front, back := networks[p.Name+"_front"], networks[p.Name+"_back"]
				if front == nil || back == nil {
					t.Fatalf("networks = %v, want %s_front and %s_back", containerNetworkNames(networks), p.Name, p.Name)
				}
				fieldContains(t, "front aliases", front.Aliases, "web-front")
				fieldContains(t, "back aliases", back.Aliases, "web-back")
				fieldEqual(t, "back IPAddress", back.IPAddress, p.subnet+".10")
				if back.IPAMConfig == nil || back.IPAMConfig.IPv4Address != p.subnet+".10" {
					t.Errorf("back IPAMConfig = %+v, want IPv4Address %s.10", back.IPAMConfig, p.subnet)
				}

				isolated := p.inspectService(t, "isolated", 1)[0]
				fieldEqual(t, "isolated NetworkMode", isolated.HostConfig.NetworkMode, container.NetworkMode("none"))
				if _, ok := isolated.NetworkSettings.Networks[p.Name+"_default"]; ok {
					t.Errorf("isolated joined %s_default, want network_mode none only", p.Name)
				}
			},
		},
		{
			name: "storage",
			compose: `  web:
` + containerWorker + `    volumes:
      - data:/data:nocopy
      - ./conf:/conf:ro,z
      - type: tmpfs
        target: /scratch
        tmpfs:
          size: 1048576
    tmpfs: ["/tmp:size=1m"]
    secrets:
      - token
      - source: token
        target: renamed
      - source: api_key
        uid: "10001"
        mode: 0o400
    configs:
      - source: settings
        target: /etc/settings.ini
      - inline
volumes:
  data: {}
secrets:
  token:
    file: ./token.txt
  api_key:
    environment: CONTAINER_FIDELITY_KEY
configs:
  settings:
    file: ./settings.ini
  inline:
    content: "c=3"
`,
			files: map[string]string{"conf/app.conf": "a=1\n", "token.txt": "s3cret\n", "settings.ini": "b=2\n",
				".env": "CONTAINER_FIDELITY_KEY=k3y\n"},
			check: func(t *testing.T, p containerProject, _ result) {
				c := p.inspectService(t, "web", 1)[0]
				mounts := map[string]container.MountPoint{}
				for _, m := range c.Mounts {
					mounts[m.Destination] = m
				}
				mountEqual(t, mounts, "/data", mount.TypeVolume, p.Name+"_data", true)
				mountEqual(t, mounts, "/conf", mount.TypeBind, filepath.Join(p.Dir, "conf"), false)
				mountEqual(t, mounts, "/run/secrets/token", mount.TypeBind, filepath.Join(p.Dir, "token.txt"), false)
				mountEqual(t, mounts, "/run/secrets/renamed", mount.TypeBind, filepath.Join(p.Dir, "token.txt"), false)
				mountEqual(t, mounts, "/etc/settings.ini", mount.TypeBind, filepath.Join(p.Dir, "settings.ini"), false)
				mountEqual(t, mounts, "/scratch", mount.TypeTmpfs, "", true)
				fieldContains(t, "Binds", c.HostConfig.Binds, filepath.Join(p.Dir, "conf")+":/conf:ro,z")
				fieldEqual(t, "Tmpfs", c.HostConfig.Tmpfs, map[string]string{"/tmp": "size=1m"})
				fieldEqual(t, "api_key", p.readFile(t, c.ID, "/run/secrets/api_key"), containerFile{"k3y", 0o400, 10001})
				fieldEqual(t, "inline", p.readFile(t, c.ID, "/inline"), containerFile{"c=3", 0o444, 0})
			},
		},
		{
			name: "lifecycle",
			compose: `  web:
` + containerWorker + `    stop_signal: SIGINT
    stop_grace_period: 3s
    deploy:
      restart_policy:
        condition: on-failure
        max_attempts: 3
    healthcheck:
      test: ["CMD", "/worker", "-healthcheck"]
      interval: 500ms
      timeout: 2s
      retries: 5
      start_period: 1s
      start_interval: 1s
    logging:
      driver: json-file
      options:
        max-size: 1m
        max-file: "2"
  quiet:
` + containerWorker + `    restart: "no"
    healthcheck:
      disable: true
`,
			check: func(t *testing.T, p containerProject, up result) {
				c := p.inspectService(t, "web", 1)[0]
				fieldEqual(t, "StopSignal", c.Config.StopSignal, "SIGINT")
				fieldEqual(t, "StopTimeout", valueOf(c.Config.StopTimeout), 3)
				fieldEqual(t, "RestartPolicy", c.HostConfig.RestartPolicy,
					container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 3})
				fieldEqual(t, "Healthcheck", c.Config.Healthcheck, &container.HealthConfig{
					Test: []string{"CMD", "/worker", "-healthcheck"}, Interval: 500 * time.Millisecond,
					Timeout: 2 * time.Second, Retries: 5, StartPeriod: time.Second,
				})
				fieldEqual(t, "LogConfig", c.HostConfig.LogConfig, container.LogConfig{
					Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "2"}})
				if c.State.Health == nil || c.State.Health.Status != "healthy" {
					t.Errorf("health = %+v, want healthy", c.State.Health)
				}
				want := `service "web": healthcheck.start_interval is not applied`
				if !strings.Contains(up.Stdout+up.Stderr, want) {
					t.Errorf("up did not warn %q:\n%s", want, up)
				}

				quiet := p.inspectService(t, "quiet", 1)[0]
				fieldEqual(t, "quiet RestartPolicy", quiet.HostConfig.RestartPolicy.Name, container.RestartPolicyDisabled)
				fieldEqual(t, "quiet Healthcheck", quiet.Config.Healthcheck, &container.HealthConfig{Test: []string{"NONE"}})
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newContainerProject(t)
			p.writeContainerCompose(tc.compose, tc.files)

			up := p.mustRun("up")
			tc.check(t, p, up)

			p.mustRun("down")
			p.requireNothingLeft()
		})
	}
}

// TestContainerFidelity_ExclusiveSettingsRollOut changes a one-instance
// service that holds a container_name, a fixed host port and a static
// address, which an old and a new container cannot hold at once, and
// expects up to replace it, as docker compose up recreates it.
func TestContainerFidelity_ExclusiveSettingsRollOut(t *testing.T) {
	t.Parallel()
	p := newContainerProject(t)
	port := freeLoopbackPort(t)
	compose := func(version string) string {
		return `  web:
` + containerWorker + `    container_name: {{.Project}}-fixed
    ports: ["127.0.0.1:` + fmt.Sprint(port) + `:8080"]
    environment:
      DEMO_VERSION: "` + version + `"
    networks:
      back:
        ipv4_address: {{.Subnet}}.20
    x-clusterctl:
      proxy: false
networks:
  back:
    ipam:
      config:
        - subnet: {{.Subnet}}.0/24
`
	}
	p.writeContainerCompose(compose("1"), nil)
	p.mustRun("up")
	first := p.inspectService(t, "web", 1)[0]

	p.writeContainerCompose(compose("2"), nil)
	up := p.mustRun("up")

	if !strings.Contains(up.Stderr, "rolls out stop-first") {
		t.Errorf("up does not warn that web rolls out stop-first:\n%s", up.Stderr)
	}
	web := p.inspectService(t, "web", 1)[0]
	if web.ID == first.ID {
		t.Fatalf("web is still the first container %s", first.Name)
	}
	fieldEqual(t, "Name", web.Name, "/"+p.Name+"-fixed")
	fieldContains(t, "Env", web.Config.Env, "DEMO_VERSION=2")
	if ep := web.NetworkSettings.Networks[p.Name+"_back"]; ep == nil || ep.IPAddress != p.subnet+".20" {
		t.Errorf("web endpoint on %s_back = %+v, want the address %s.20", p.Name, ep, p.subnet)
	}
	if _, err := get(&http.Client{Timeout: 5 * time.Second}, loopbackURL(t, "127.0.0.1", port, "/")); err != nil {
		t.Errorf("request to the fixed host port after the rollout: %v", err)
	}

	p.mustRun("down")
	p.requireNothingLeft()
}

func TestContainerFidelity_Refused(t *testing.T) {
	cases := []struct {
		name    string
		compose string
		args    []string
		want    []string
	}{
		{
			name:    "shell operators in a string command",
			compose: "  web:\n" + containerWorker + "    command: /worker && echo done\n",
			args:    []string{"up"},
			want:    []string{`contains the shell operator "&&"`, `["sh", "-c", "/worker && echo done"]`},
		},
		{
			name:    "unknown volume mode",
			compose: "  web:\n" + containerWorker + "    volumes:\n      - ./data:/data:rx\n",
			args:    []string{"up"},
			want:    []string{`has the unknown mode "rx"`},
		},
		{
			name:    "static address on several instances",
			compose: "  web:\n" + containerWorker + "    networks:\n      default:\n        ipv4_address: 10.1.2.3\n    x-clusterctl:\n      instances: 2\n",
			args:    []string{"up"},
			want:    []string{"ipv4_address 10.1.2.3 cannot be used with instances: 2"},
		},
		{
			name:    "scale with container_name",
			compose: "  web:\n" + containerWorker + "    container_name: {{.Project}}-fixed\n",
			args:    []string{"scale", "web=3"},
			want:    []string{`container_name "`, "cannot be used with instances: 3", "remove container_name"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newContainerProject(t)
			p.writeContainerCompose(tc.compose, nil)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			res := p.run(ctx, tc.args...)

			if res.Code != 2 {
				t.Fatalf("%s: want exit code 2, got %s", strings.Join(tc.args, " "), res)
			}
			for _, want := range tc.want {
				if !strings.Contains(res.Stderr, want) {
					t.Errorf("stderr does not contain %q:\n%s", want, res.Stderr)
				}
			}
			p.requireNothingLeft()
		})
	}
}

// containerProject is a project with a random /24 subnet for static
// addresses.
type containerProject struct {
	*project
	// subnet is the first three octets of the subnet, such as 10.213.7.
	subnet string
}

func newContainerProject(t *testing.T) containerProject {
	t.Helper()
	p := newProject(t)
	n, err := rand.Int(rand.Reader, big.NewInt(250))
	if err != nil {
		t.Fatal(err)
	}
	return containerProject{project: p, subnet: fmt.Sprintf("10.213.%d", n.Int64()+1)}
}

// writeContainerCompose writes the compose file, behind containerHeader,
// and the files it refers to into the project directory.
func (p containerProject) writeContainerCompose(services string, files map[string]string) {
	p.t.Helper()
	text := strings.NewReplacer(
		"{{.Project}}", p.Name,
		"{{.WorkerDir}}", filepath.Join(repoRoot, "deployments", "demo", "worker"),
		"{{.Image}}", workerImage,
		"{{.Subnet}}", p.subnet,
	).Replace(containerHeader + services)
	files = maps.Clone(files)
	if files == nil {
		files = map[string]string{}
	}
	files["compose.yaml"] = text
	for name, content := range files {
		path := filepath.Join(p.Dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			p.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
}

// inspectService returns the engine's inspect view of the instances of a
// service, sorted by name, and fails unless there are count of them.
func (p containerProject) inspectService(t *testing.T, service string, count int) []container.InspectResponse {
	t.Helper()
	ctx := context.Background()
	list, err := engine.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", "io.clusterctl.project="+p.Name),
		filters.Arg("label", "io.clusterctl.service="+service),
		filters.Arg("label", "io.clusterctl.role=instance"),
	)})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	if len(list) != count {
		t.Fatalf("service %s has %d instances, want %d", service, len(list), count)
	}
	var out []container.InspectResponse
	for _, c := range list {
		info, err := engine.ContainerInspect(ctx, c.ID)
		if err != nil {
			t.Fatalf("inspect %s: %v", c.ID, err)
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b container.InspectResponse) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// containerFile is a file in a container: its content, mode and owner.
type containerFile struct {
	content string
	mode    int64
	uid     int
}

// readFile reads one file out of a container through the engine.
func (p containerProject) readFile(t *testing.T, id, path string) containerFile {
	t.Helper()
	rc, _, err := engine.CopyFromContainer(context.Background(), id, path)
	if err != nil {
		t.Fatalf("copy %s out of %s: %v", path, id, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	header, err := tr.Next()
	if err != nil {
		t.Fatalf("read the archive of %s: %v", path, err)
	}
	content, err := io.ReadAll(tr)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return containerFile{content: string(content), mode: header.Mode & 0o7777, uid: header.Uid}
}

// fieldEqual fails unless got equals one of wants.
func fieldEqual[T any](t *testing.T, field string, got T, wants ...T) {
	t.Helper()
	for _, want := range wants {
		if reflect.DeepEqual(got, want) {
			return
		}
	}
	t.Errorf("%s = %#v, want %#v", field, got, wants[0])
}

func fieldContains(t *testing.T, field string, list []string, want string) {
	t.Helper()
	if !slices.Contains(list, want) {
		t.Errorf("%s = %q, want it to contain %q", field, list, want)
	}
}

func mountEqual(t *testing.T, mounts map[string]container.MountPoint, target string, typ mount.Type, source string, rw bool) {
	t.Helper()
	m, ok := mounts[target]
	if !ok {
		t.Errorf("no mount at %s; mounts: %v", target, containerMountTargets(mounts))
		return
	}
	fieldEqual(t, target+" type", m.Type, typ)
	fieldEqual(t, target+" RW", m.RW, rw)
	if source == "" {
		return
	}
	if m.Type == mount.TypeVolume {
		fieldEqual(t, target+" volume", m.Name, source)
		return
	}
	fieldEqual(t, target+" source", m.Source, source)
}

func containerMountTargets(mounts map[string]container.MountPoint) []string {
	var targets []string
	for target := range mounts {
		targets = append(targets, target)
	}
	slices.Sort(targets)
	return targets
}

func containerNetworkNames[V any](m map[string]V) []string {
	var names []string
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// valueOf returns *p, or the zero value for nil.
func valueOf[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
