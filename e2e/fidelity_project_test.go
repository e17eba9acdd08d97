//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
)

// fidelityWorker is a YAML anchor for a demo worker service with an
// exec-form healthcheck; the image has no shell.
const fidelityWorker = `
name: {{.Project}}
x-worker: &worker
  image: {{.Image}}
  build:
    context: {{.WorkerDir}}
  environment:
    OTEL_SDK_DISABLED: "true"
  healthcheck:
    test: ["CMD", "/worker", "-healthcheck"]
    interval: 300ms
    timeout: 2s
    retries: 30
  stop_grace_period: 2s
`

// fidelityCase is one group of compose project settings checked against
// the engine's own view.
type fidelityCase struct {
	name string
	run  func(t *testing.T, p *project)
}

func TestFidelity_Project(t *testing.T) {
	cases := []fidelityCase{
		{"networks", checkNetworks},
		{"external network missing", checkExternalNetworkMissing},
		{"volumes", checkVolumes},
		{"depends_on order and conditions", checkDependsOn},
		{"depends_on completed unsuccessfully", checkCompletedUnsuccessfully},
		{"pull_policy", checkPullPolicy},
		{"build args and target", checkBuild},
		{"up --no-start then up", checkNoStart},
		{"up --detach", checkDetach},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newProject(t))
		})
	}
}

func checkNetworks(t *testing.T, p *project) {
	octet := randomOctet(t)
	subnet := fmt.Sprintf("10.213.%d.0/24", octet)
	text := fidelityWorker + fmt.Sprintf(`
services:
  web:
    <<: *worker
    networks: [back]
networks:
  back:
    driver: bridge
    internal: %%s
    driver_opts:
      com.docker.network.bridge.enable_icc: "true"
    labels:
      org.example.tier: back
    ipam:
      config:
        - subnet: %s
          ip_range: 10.213.%d.128/25
          aux_addresses:
            reserved: 10.213.%d.5
`, subnet, octet, octet)
	p.writeCompose(fmt.Sprintf(text, "true"), composeVars{})
	p.mustRun("up")

	name := p.Name + "_back"
	n, err := engine.NetworkInspect(context.Background(), name, network.InspectOptions{})
	if err != nil {
		t.Fatalf("inspect network %s: %v", name, err)
	}
	if n.Driver != "bridge" || !n.Internal {
		t.Errorf("network driver %q internal %v, want bridge and internal", n.Driver, n.Internal)
	}
	if n.Options["com.docker.network.bridge.enable_icc"] != "true" {
		t.Errorf("network options = %v, want the file's driver_opts", n.Options)
	}
	if n.Labels["org.example.tier"] != "back" || n.Labels["io.clusterctl.project"] != p.Name {
		t.Errorf("network labels = %v, want the file's label and the project label", n.Labels)
	}
	if len(n.IPAM.Config) != 1 {
		t.Fatalf("IPAM config = %+v, want one pool", n.IPAM.Config)
	}
	pool := n.IPAM.Config[0]
	if pool.Subnet != subnet || pool.IPRange != fmt.Sprintf("10.213.%d.128/25", octet) || pool.AuxAddress["reserved"] != fmt.Sprintf("10.213.%d.5", octet) {
		t.Errorf("IPAM pool = %+v, want the file's subnet, ip_range and aux_addresses", pool)
	}
	web := inspectService(t, p, "web")
	if len(web) != 1 {
		t.Fatalf("%d web containers, want 1", len(web))
	}
	addr := net.ParseIP(web[0].NetworkSettings.Networks[name].IPAddress)
	if addr == nil || addr.To4()[3] < 128 {
		t.Errorf("instance address %v is outside ip_range 10.213.%d.128/25", addr, octet)
	}

	p.writeCompose(fmt.Sprintf(text, "false"), composeVars{})
	res := p.run(context.Background(), "up")
	if res.Code != 1 {
		t.Fatalf("up after changing internal: want exit code 1, got %s", res)
	}
	for _, want := range []string{"network " + name + " was found but has incorrect config: internal differ", "clusterctl down, then up"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, res.Stderr)
		}
	}

	p.mustRun("down")
	p.mustRun("up")
	if n, err := engine.NetworkInspect(context.Background(), name, network.InspectOptions{}); err != nil || n.Internal {
		t.Errorf("after down and up, network %s internal = %v (err %v), want false", name, n.Internal, err)
	}
}

func checkExternalNetworkMissing(t *testing.T, p *project) {
	missing := p.Name + "-absent"
	p.writeCompose(fidelityWorker+`
services:
  web:
    <<: *worker
    networks: [shared]
networks:
  shared:
    external: true
    name: `+missing+"\n", composeVars{})

	res := p.run(context.Background(), "up")

	if res.Code != 1 {
		t.Fatalf("up: want exit code 1, got %s", res)
	}
	for _, want := range []string{"network " + missing + " is declared external", "docker network create " + missing} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, res.Stderr)
		}
	}
	p.requireNothingLeft()
}

func checkVolumes(t *testing.T, p *project) {
	external := p.Name + "-shared"
	p.writeCompose(fidelityWorker+`
services:
  web:
    <<: *worker
    volumes:
      - data:/data
      - shared:/shared
      - /cache
volumes:
  data:
    driver: local
    driver_opts: {type: tmpfs, device: tmpfs, o: "size=1m"}
    labels:
      org.example.backup: "no"
  shared:
    external: true
    name: `+external+"\n", composeVars{})
	dataName := p.Name + "_data"

	res := p.run(context.Background(), "up")
	if res.Code != 1 || !strings.Contains(res.Stderr, "volume "+external+" is declared external") {
		t.Fatalf("up without the external volume: want exit code 1 naming it, got %s", res)
	}
	if _, err := engine.VolumeInspect(context.Background(), dataName); err == nil {
		t.Errorf("volume %s is left after the failed up", dataName)
	}

	if _, err := engine.VolumeCreate(context.Background(), volume.CreateOptions{Name: external}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.VolumeRemove(context.Background(), external, true) })
	p.mustRun("up")

	v, err := engine.VolumeInspect(context.Background(), dataName)
	if err != nil {
		t.Fatalf("inspect volume %s: %v", dataName, err)
	}
	if v.Driver != "local" || v.Options["type"] != "tmpfs" || v.Options["o"] != "size=1m" {
		t.Errorf("volume %s driver %q options %v, want local with the file's driver_opts", dataName, v.Driver, v.Options)
	}
	if v.Labels["org.example.backup"] != "no" || v.Labels["io.clusterctl.project"] != p.Name {
		t.Errorf("volume labels = %v, want the file's label and the project label", v.Labels)
	}
	web := inspectService(t, p, "web")
	if len(web) != 1 {
		t.Fatalf("%d web containers, want 1", len(web))
	}
	var sources []string
	for _, m := range web[0].Mounts {
		sources = append(sources, m.Name)
	}
	if !slices.Contains(sources, dataName) || !slices.Contains(sources, external) {
		t.Errorf("instance mounts %v, want %s and %s", sources, dataName, external)
	}
	anonymous := anonymousVolume(t, web[0], "/cache")

	// As in Docker Compose, down keeps anonymous volumes and down --volumes
	// removes them with their containers.
	p.mustRun("down")
	if _, err := engine.VolumeInspect(context.Background(), dataName); err != nil {
		t.Errorf("down without --volumes removed %s: %v", dataName, err)
	}
	if _, err := engine.VolumeInspect(context.Background(), anonymous); err != nil {
		t.Errorf("down without --volumes removed the anonymous volume %s: %v", anonymous, err)
	}
	if err := engine.VolumeRemove(context.Background(), anonymous, true); err != nil {
		t.Errorf("remove the anonymous volume %s: %v", anonymous, err)
	}
	p.mustRun("up")
	anonymous = anonymousVolume(t, only(t, p, "web"), "/cache")
	p.mustRun("down", "--volumes")
	if _, err := engine.VolumeInspect(context.Background(), dataName); err == nil {
		t.Errorf("down --volumes kept %s", dataName)
	}
	if _, err := engine.VolumeInspect(context.Background(), anonymous); err == nil {
		t.Errorf("down --volumes kept the anonymous volume %s at /cache", anonymous)
	}
	if _, err := engine.VolumeInspect(context.Background(), external); err != nil {
		t.Errorf("down --volumes removed the external volume %s: %v", external, err)
	}
}

// anonymousVolume returns the name of the volume mounted at target, and
// removes it when the test ends in case the test failed before it did.
func anonymousVolume(t *testing.T, c container.InspectResponse, target string) string {
	t.Helper()
	for _, m := range c.Mounts {
		if m.Destination == target && m.Type == "volume" {
			t.Cleanup(func() { _ = engine.VolumeRemove(context.Background(), m.Name, true) })
			return m.Name
		}
	}
	t.Fatalf("%s has no volume at %s: %+v", c.Name, target, c.Mounts)
	return ""
}

// dependsOnCompose is db, a one-shot migrate that waits for db to be
// healthy, and web that waits for both.
const dependsOnCompose = `
services:
  db:
    <<: *worker
    environment:
      OTEL_SDK_DISABLED: "true"
      DEMO_READY_AFTER: 1s
  migrate:
    <<: *worker
    healthcheck: {disable: true}
    environment:
      OTEL_SDK_DISABLED: "true"
      DEMO_EXIT_AFTER: 300ms
      DEMO_EXIT_CODE: "{{index .ExtraEnv "code"}}"
    depends_on:
      db: {condition: service_healthy}
  web:
    <<: *worker
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
`

func checkDependsOn(t *testing.T, p *project) {
	p.writeCompose(fidelityWorker+dependsOnCompose, composeVars{ExtraEnv: map[string]string{"code": "0"}})
	p.mustRun("up")

	db, migrate, web := only(t, p, "db"), only(t, p, "migrate"), only(t, p, "web")
	dbHealthy := firstHealthy(t, db)
	if migrate.State.Status != "exited" || migrate.State.ExitCode != 0 {
		t.Errorf("migrate state %s exit code %d, want exited 0", migrate.State.Status, migrate.State.ExitCode)
	}
	if started := parseTime(t, migrate.State.StartedAt); started.Before(dbHealthy) {
		t.Errorf("migrate started at %s, before db was healthy at %s", started, dbHealthy)
	}
	webStarted := parseTime(t, web.State.StartedAt)
	if finished := parseTime(t, migrate.State.FinishedAt); webStarted.Before(finished) {
		t.Errorf("web started at %s, before migrate finished at %s", webStarted, finished)
	}
	if webStarted.Before(dbHealthy) {
		t.Errorf("web started at %s, before db was healthy at %s", webStarted, dbHealthy)
	}

	again := p.mustRun("up")
	if !strings.Contains(again.Stderr, "nothing to do") {
		t.Errorf("a second up did not say that nothing changed; migrate must stay completed:\n%s", again.Stderr)
	}
	if m := only(t, p, "migrate"); m.State.StartedAt != migrate.State.StartedAt {
		t.Errorf("the second up ran migrate again (started %s, first run %s)", m.State.StartedAt, migrate.State.StartedAt)
	}
}

func checkCompletedUnsuccessfully(t *testing.T, p *project) {
	p.writeCompose(fidelityWorker+dependsOnCompose, composeVars{ExtraEnv: map[string]string{"code": "3"}})

	res := p.run(context.Background(), "up")

	if res.Code != 1 {
		t.Fatalf("up: want exit code 1, got %s", res)
	}
	for _, want := range []string{"instance migrate.0", "exited with code 3",
		"web depends on it with condition service_completed_successfully", "last log lines:", "exiting with code 3"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, res.Stderr)
		}
	}
	if web := inspectService(t, p, "web"); len(web) != 0 {
		t.Errorf("web has %d containers, want none: it must not start when migrate fails", len(web))
	}
}

func checkPullPolicy(t *testing.T, p *project) {
	missing := "clusterctl-e2e/absent:" + strings.TrimPrefix(p.Name, "e2e-")
	cases := []struct {
		policy   string
		wantCode int
		want     []string
	}{
		{"never", 1, []string{missing, "does not pull images (pull_policy: never)", "docker build -t " + missing, "docker load"}},
		{"always", 2, []string{`pull_policy "always" pulls image`, "does not pull images"}},
	}
	for _, tc := range cases {
		p.writeCompose("name: {{.Project}}\nservices:\n  web:\n    image: "+missing+"\n    pull_policy: "+tc.policy+"\n", composeVars{})
		res := p.run(context.Background(), "up")
		if res.Code != tc.wantCode {
			t.Fatalf("pull_policy %s: want exit code %d, got %s", tc.policy, tc.wantCode, res)
		}
		for _, want := range tc.want {
			if !strings.Contains(res.Stderr, want) {
				t.Errorf("pull_policy %s: stderr does not contain %q:\n%s", tc.policy, want, res.Stderr)
			}
		}
		if _, err := engine.ImageInspect(context.Background(), missing); err == nil {
			t.Errorf("pull_policy %s: image %s appeared on the engine", tc.policy, missing)
		}
	}
	p.requireNothingLeft()
}

// buildDockerfile has stages FROM scratch only. The app stage copies a
// file chosen by a build argument, and the stage after the target cannot
// be built, so the build succeeds only with the args and target applied.
const buildDockerfile = `FROM scratch AS base
ARG GREETING=none
COPY greeting-${GREETING}.txt /greeting.txt
LABEL org.example.greeting=$GREETING

FROM base AS app
COPY worker /worker
LABEL org.example.stage=app
USER 10001:10001
ENTRYPOINT ["/worker"]

FROM app AS broken
COPY does-not-exist /nothing
`

func checkBuild(t *testing.T, p *project) {
	appDir := filepath.Join(p.Dir, "app")
	if err := os.MkdirAll(appDir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(repoRoot, "deployments", "demo", "worker", "bin", "worker"), filepath.Join(appDir, "worker"))
	for name, content := range map[string]string{"app.Dockerfile": buildDockerfile, "greeting-hello.txt": "hello\n"} {
		if err := os.WriteFile(filepath.Join(appDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	built, inline := p.Name+"/web:dev", p.Name+"/inline:dev"
	// Cleanups run last first, so this one removes the project's containers
	// itself before it removes their images.
	t.Cleanup(func() {
		p.destroy()
		for _, ref := range []string{built, inline} {
			_, _ = engine.ImageRemove(context.Background(), ref, image.RemoveOptions{PruneChildren: true})
		}
	})
	p.writeCompose(fidelityWorker+`
services:
  web:
    <<: *worker
    image: `+built+`
    build:
      context: ./app
      dockerfile: app.Dockerfile
      target: app
      args: {GREETING: hello}
      labels: {org.example.built-by: clusterctl-e2e}
  inline:
    <<: *worker
    image: `+inline+`
    build:
      context: ./app
      dockerfile_inline: |
        FROM scratch
        COPY worker /worker
        LABEL org.example.inline=yes
        ENTRYPOINT ["/worker"]
`, composeVars{})

	p.mustRun("up")

	img, err := engine.ImageInspect(context.Background(), built)
	if err != nil {
		t.Fatalf("inspect built image: %v", err)
	}
	for key, want := range map[string]string{"org.example.greeting": "hello", "org.example.stage": "app", "org.example.built-by": "clusterctl-e2e"} {
		if got := img.Config.Labels[key]; got != want {
			t.Errorf("image label %s = %q, want %q", key, got, want)
		}
	}
	if web := only(t, p, "web"); web.Image != img.ID || !web.State.Running {
		t.Errorf("web runs image %s (running %v), want the built %s", web.Image, web.State.Running, img.ID)
	}
	inlineImg, err := engine.ImageInspect(context.Background(), inline)
	if err != nil {
		t.Fatalf("inspect image built from dockerfile_inline: %v", err)
	}
	if inlineImg.Config.Labels["org.example.inline"] != "yes" {
		t.Errorf("inline image labels = %v, want org.example.inline=yes", inlineImg.Config.Labels)
	}
}

func checkNoStart(t *testing.T, p *project) {
	port := freeLoopbackPort(t)
	// agent shares db's network stack and sorts before it, so up --no-start
	// must create db first and point agent at a container that never ran.
	p.writeCompose(fidelityWorker+`
services:
  agent:
    <<: *worker
    network_mode: service:db
    environment:
      OTEL_SDK_DISABLED: "true"
      PORT: "9090"
  db:
    <<: *worker
  web:
    <<: *worker
    ports: ["127.0.0.1:{{.Port}}:8080"]
    depends_on:
      db: {condition: service_healthy}
    x-clusterctl:
      instances: 2
`, composeVars{Port: port})

	p.mustRun("up", "--no-start")

	all := inspectAll(t, p)
	if len(all) != 5 {
		t.Fatalf("%d containers after up --no-start, want agent, db, 2 web instances and the web front door", len(all))
	}
	if mode := only(t, p, "agent").HostConfig.NetworkMode; string(mode) != "container:"+only(t, p, "db").ID {
		t.Errorf("agent network mode = %s, want the db container", mode)
	}
	for _, c := range all {
		if c.State.Status != "created" || !parseTime(t, c.State.StartedAt).IsZero() {
			t.Errorf("%s: state %s, started at %s; want created and never started", c.Name, c.State.Status, c.State.StartedAt)
		}
	}
	if nets := p.networks(); !slices.Contains(nets, p.Name+"_default") {
		t.Errorf("networks = %v, want %s_default", nets, p.Name)
	}

	p.mustRun("up")

	for _, c := range inspectAll(t, p) {
		if !c.State.Running {
			t.Errorf("%s is %s after up, want running", c.Name, c.State.Status)
		}
		created := parseTime(t, c.Created)
		if started := parseTime(t, c.State.StartedAt); !started.After(created) {
			t.Errorf("%s started at %s, not after it was created at %s", c.Name, started, created)
		}
	}
	if got := len(inspectAll(t, p)); got != 5 {
		t.Errorf("%d containers after up, want the 5 that up --no-start created", got)
	}
	requireReadySlots(t, filterRows(p.ps(), "web"), 2)
	if _, err := get(&http.Client{Timeout: 5 * time.Second}, loopbackURL(t, "127.0.0.1", port, "/")); err != nil {
		t.Errorf("request through the front door: %v", err)
	}
}

// checkDetach runs up --detach on a service that never gets ready and one
// behind a front door: up returns without waiting for the first, and waits
// for the second, whose front door serves once up returns.
func checkDetach(t *testing.T, p *project) {
	port := freeLoopbackPort(t)
	p.writeCompose(fidelityWorker+`
services:
  api:
    <<: *worker
    environment:
      OTEL_SDK_DISABLED: "true"
      DEMO_NEVER_READY: "true"
    healthcheck:
      test: ["CMD", "/worker", "-healthcheck"]
      interval: 300ms
      timeout: 2s
      retries: 1000
    x-clusterctl:
      instances: 2
  web:
    <<: *worker
    ports: ["127.0.0.1:{{.Port}}:8080"]
`, composeVars{Port: port})

	res := p.mustRun("up", "--detach")

	for _, want := range []string{
		"2 instances started and not waited for",
		"waited until ready despite --detach: its front door",
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("up --detach output lacks %q:\n%s", want, res.Stderr)
		}
	}
	api := filterRows(p.ps(), "api")
	if len(api) != 2 {
		t.Fatalf("ps lists %d api instances after up --detach, want 2: %+v", len(api), api)
	}
	for _, r := range api {
		if r.State != "starting" && r.State != "unhealthy" {
			t.Errorf("api instance %s is %s, want starting or unhealthy: it never gets ready", r.Name, r.State)
		}
	}
	requireReadySlots(t, filterRows(p.ps(), "web"), 1)
	if _, err := get(&http.Client{Timeout: 5 * time.Second}, loopbackURL(t, "127.0.0.1", port, "/")); err != nil {
		t.Errorf("request through the front door right after up --detach: %v", err)
	}

	// up without --detach waits for what the detached run left starting.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res = p.run(ctx, "up", "--wait-timeout", "2s")
	if res.Code != 1 || !strings.Contains(res.Stderr, "waiting for 2 starting instances to get ready") {
		t.Errorf("up after up --detach: want exit code 1 after a wait for the 2 api instances, got %s", res)
	}
}

// inspectService returns the inspect view of every container of a
// service, front door excluded.
func inspectService(t *testing.T, p *project, service string) []container.InspectResponse {
	t.Helper()
	var out []container.InspectResponse
	for _, c := range inspectAll(t, p) {
		if c.Config.Labels["io.clusterctl.service"] == service && c.Config.Labels["io.clusterctl.role"] == "instance" {
			out = append(out, c)
		}
	}
	return out
}

// inspectAll returns the inspect view of every container of the project.
func inspectAll(t *testing.T, p *project) []container.InspectResponse {
	t.Helper()
	ctx := context.Background()
	list, err := engine.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", "io.clusterctl.project="+p.Name))})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	var out []container.InspectResponse
	for _, c := range list {
		if c.Labels["io.clusterctl.role"] == "lock" {
			continue
		}
		info, err := engine.ContainerInspect(ctx, c.ID)
		if err != nil {
			t.Fatalf("inspect %s: %v", c.ID, err)
		}
		out = append(out, info)
	}
	return out
}

// only returns the one instance of a service.
func only(t *testing.T, p *project, service string) container.InspectResponse {
	t.Helper()
	list := inspectService(t, p, service)
	if len(list) != 1 {
		t.Fatalf("service %s has %d containers, want 1", service, len(list))
	}
	return list[0]
}

// firstHealthy returns when the engine first reported the container
// healthy, from its health_status events; the health log keeps only the
// last few checks.
func firstHealthy(t *testing.T, c container.InspectResponse) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	since := parseTime(t, c.Created)
	messages, errs := engine.Events(ctx, events.ListOptions{
		Since: strconv.FormatInt(since.Unix()-1, 10), Until: strconv.FormatInt(time.Now().Unix()+1, 10),
		Filters: filters.NewArgs(filters.Arg("container", c.ID), filters.Arg("event", "health_status")),
	})
	for {
		select {
		case msg := <-messages:
			if strings.HasSuffix(string(msg.Action), ": healthy") {
				return time.Unix(0, msg.TimeNano)
			}
		case err := <-errs:
			t.Fatalf("%s: no health_status healthy event (stream ended: %v)", c.Name, err)
		}
	}
}

func parseTime(t *testing.T, value string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		t.Fatalf("parse engine timestamp %q: %v", value, err)
	}
	return ts
}

func filterRows(rows []psRow, service string) []psRow {
	return slices.DeleteFunc(rows, func(r psRow) bool { return r.Service != service })
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatalf("open %s: %v; run make images first", from, err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
}

// randomOctet returns a number for a private test subnet, so that parallel
// runs on one engine rarely pick the same one.
func randomOctet(t *testing.T) int {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(250))
	if err != nil {
		t.Fatal(err)
	}
	return int(n.Int64()) + 1
}
