//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	dockercontainer "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/volume"
	mobycontainer "github.com/moby/moby/api/types/container"
	mobynetwork "github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Worker image tags of the rollout tests. Each tag is built from the same
// build context; the tag alone changes the revision and service.version.
const (
	workerV2 = "clusterctl-e2e/worker:v2"
	workerV3 = "clusterctl-e2e/worker:v3"
)

// rolloutSpec is the part of a rollout compose file that the tests vary.
// Zero fields take the defaults of withDefaults.
type rolloutSpec struct {
	Parallelism   int
	Delay         string
	Monitor       string
	HealthTimeout string
	HealthRetries int
	StopGrace     string
}

func (s rolloutSpec) withDefaults() rolloutSpec {
	s.Parallelism = cmpOrInt(s.Parallelism, 1)
	s.HealthRetries = cmpOrInt(s.HealthRetries, 20)
	if s.HealthTimeout == "" {
		s.HealthTimeout = "1s"
	}
	if s.StopGrace == "" {
		s.StopGrace = "5s"
	}
	return s
}

// rolloutCompose is the web service of the rollout tests: the demo worker
// behind a front door on a loopback port, with a 500 ms healthcheck. The
// [[ ]] actions take a rolloutSpec; the {{ }} actions are left for
// writeCompose. Without OTelNet the instances get no telemetry.
const rolloutCompose = `
name: {{.Project}}
x-clusterctl:
  otel:
{{- if .OTelNet}}
    endpoint: http://otel-collector:4318
    protocol: http/protobuf
{{- else}}
    enabled: false
{{- end}}
services:
  web:
    build:
      context: {{.WorkerDir}}
    image: {{.Image}}
    ports:
      - "127.0.0.1:{{.Port}}:8080"
    environment:
      OTEL_METRIC_EXPORT_INTERVAL: "500"
      OTEL_TRACES_SAMPLER: always_off
{{- range $k, $v := .ExtraEnv}}
      {{$k}}: "{{$v}}"
{{- end}}
    healthcheck:
      test: ["CMD", "/worker", "-healthcheck"]
      interval: 500ms
      timeout: [[.HealthTimeout]]
      retries: [[.HealthRetries]]
    stop_grace_period: [[.StopGrace]]
    deploy:
      update_config:
        parallelism: [[.Parallelism]]
[[- if .Delay]]
        delay: [[.Delay]]
[[- end]]
[[- if .Monitor]]
        monitor: [[.Monitor]]
[[- end]]
{{- if .OTelNet}}
    networks: [default, otel]
{{- end}}
    x-clusterctl:
      instances: {{.Instances}}
      drain_timeout: 10s
{{- if .OTelNet}}
networks:
  otel:
    external: true
    name: {{.OTelNet}}
{{- end}}
`

// writeRollout writes the project's compose file from rolloutCompose.
func (p *project) writeRollout(spec rolloutSpec, vars composeVars) {
	p.t.Helper()
	tmpl := template.Must(template.New("rollout").Delims("[[", "]]").Parse(rolloutCompose))
	var text bytes.Buffer
	if err := tmpl.Execute(&text, spec.withDefaults()); err != nil {
		p.t.Fatalf("render rollout compose template: %v", err)
	}
	p.writeCompose(text.String(), vars)
}

// newRolloutProject returns newProject's project and also removes, after
// newProject's own cleanup, every volume with the project label: rollout
// history may live in volumes.
func newRolloutProject(t testing.TB) *project {
	t.Helper()
	var p *project
	t.Cleanup(func() {
		if p != nil {
			p.removeVolumes()
		}
	})
	p = newProject(t)
	return p
}

func (p *project) removeVolumes() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := engine.VolumeList(ctx, volume.ListOptions{Filters: p.filter()})
	if err != nil {
		p.t.Logf("cleanup: list volumes: %v", err)
		return
	}
	for _, v := range list.Volumes {
		p.t.Logf("cleanup: removing leftover volume %s", v.Name)
		_ = engine.VolumeRemove(ctx, v.Name, true)
	}
}

// proc is a clusterctl command that runs in the background.
type proc struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	res    result
}

// start runs clusterctl with plain progress in the project directory,
// without waiting. env is added to the test's environment, from which every
// OTEL_ variable is removed so that only env can turn tracing on. A process
// still running at cleanup is killed.
func (p *project) start(env []string, args ...string) *proc {
	p.t.Helper()
	cmd := exec.Command(clusterctlBin, append([]string{"--progress", "plain"}, args...)...)
	cmd.Dir = p.Dir
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "OTEL_")
	}), env...)
	r := &proc{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start clusterctl %s: %v", strings.Join(args, " "), err)
	}
	go r.reap()
	p.t.Cleanup(func() {
		if !r.exited() {
			_ = cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *proc) reap() {
	err := r.cmd.Wait()
	r.res = result{Stdout: r.stdout.String(), Stderr: r.stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		r.res.Code = exitErr.ExitCode()
	case err != nil:
		r.res.Code = -1
		r.res.Stderr += "\n(run: " + err.Error() + ")"
	}
	close(r.done)
}

// exited reports whether the process has ended.
func (r *proc) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// wait returns the result once the process ends. After timeout it kills
// the process and fails the test. A process ended by a signal has code -1.
func (r *proc) wait(t testing.TB, timeout time.Duration) result {
	t.Helper()
	select {
	case <-r.done:
		return r.res
	case <-time.After(timeout):
		_ = r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("clusterctl %s still ran after %s; killed it:\n%s",
			strings.Join(r.cmd.Args[1:], " "), timeout, r.res)
		return r.res
	}
}

// runWith runs clusterctl to the end with env added, as start does.
func (p *project) runWith(env []string, args ...string) result {
	p.t.Helper()
	return p.start(env, args...).wait(p.t, 5*time.Minute)
}

// revisionOf returns the revision that every row has, and fails the test
// when the rows have none or several.
func revisionOf(t testing.TB, rows []psRow) string {
	t.Helper()
	revs := map[string]bool{}
	for _, r := range rows {
		revs[r.Revision] = true
	}
	if len(revs) != 1 {
		t.Fatalf("instances run %d revisions, want exactly 1: %+v", len(revs), rows)
	}
	for rev := range revs {
		if rev == "" {
			t.Fatalf("ps lists an empty revision: %+v", rows)
		}
		return rev
	}
	return ""
}

// requireReplaced fails unless after lists count ready instances, one per
// slot, on one revision that differs from before's, in containers that
// are all new. It returns the new revision.
func requireReplaced(t testing.TB, before, after []psRow, count int) string {
	t.Helper()
	requireReadySlots(t, after, count)
	old, rev := revisionOf(t, before), revisionOf(t, after)
	if rev == old {
		t.Errorf("instances still run revision %s after the rollout", old)
	}
	requireNewContainers(t, before, after)
	return rev
}

// requireNewContainers fails when a container of before is still in after.
func requireNewContainers(t testing.TB, before, after []psRow) {
	t.Helper()
	for _, a := range after {
		for _, b := range before {
			if a.ID == b.ID {
				t.Errorf("slot %d still runs container %s (%s); want a new container", a.Instance, a.Name, a.ID)
			}
		}
	}
}

// requireRevision fails unless rows are count ready instances, one per
// slot, all on revision rev.
func requireRevision(t testing.TB, rows []psRow, count int, rev string) {
	t.Helper()
	requireReadySlots(t, rows, count)
	for _, r := range rows {
		if r.Revision != rev {
			t.Errorf("slot %d (%s) runs revision %s, want %s", r.Instance, r.Name, r.Revision, rev)
		}
	}
}

// waitForNewInstance polls ps until an instance runs another revision
// than old, in one of the given states, or any state when states is empty.
func (p *project) waitForNewInstance(old string, states ...string) {
	p.t.Helper()
	eventually(p.t, 2*time.Minute, func() error {
		rows, err := p.tryPS()
		if err != nil {
			p.t.Logf("ps during the rollout: %v", err)
			return err
		}
		for _, r := range rows {
			if r.Revision != old && (len(states) == 0 || slices.Contains(states, r.State)) {
				return nil
			}
		}
		return errNotYet(fmt.Sprintf("an instance of a revision other than %s in state %v", old, states))
	})
}

// tryPS runs ps --json and returns its rows, or an error when ps fails.
// NOTE: ps can fail while a rollout removes containers, when one goes away
// between the listing and its inspection, so polls use tryPS and not ps.
func (p *project) tryPS() ([]psRow, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := p.run(ctx, "ps", "--json")
	if res.Code != 0 {
		return nil, fmt.Errorf("ps --json: %s", res)
	}
	var rows []psRow
	if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil {
		return nil, fmt.Errorf("ps --json output is not JSON: %w", err)
	}
	return rows, nil
}

// rolesOf returns the names of the project's containers, running or not,
// by their io.clusterctl.role label.
func (p *project) rolesOf() map[string][]string {
	p.t.Helper()
	list, err := engine.ContainerList(context.Background(), dockercontainer.ListOptions{All: true, Filters: p.filter()})
	if err != nil {
		p.t.Fatalf("list containers: %v", err)
	}
	roles := map[string][]string{}
	for _, c := range list {
		role := c.Labels["io.clusterctl.role"]
		roles[role] = append(roles[role], fmt.Sprintf("%s (%s)", c.Names[0], c.State))
	}
	return roles
}

// versionsBehind sends n requests over one keep-alive client and counts
// the responses per version. Any failed request fails the test.
func versionsBehind(t testing.TB, url string, n int) map[string]int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	versions := map[string]int{}
	for range n {
		reply, err := get(client, url)
		if err != nil {
			t.Fatalf("request through the front door: %v", err)
		}
		versions[reply.Version]++
	}
	return versions
}

// requireOnlyVersion fails unless 20 requests to url all come from version.
func requireOnlyVersion(t testing.TB, url, version string) {
	t.Helper()
	got := versionsBehind(t, url, 20)
	if len(got) != 1 || got[version] == 0 {
		t.Errorf("responses after the rollout came from versions %v, want only %s", got, version)
	}
}

// historyEntry is one element of rollout history --json.
type historyEntry struct {
	Number   int    `json:"number"`
	Revision string `json:"revision"`
	Image    string `json:"image"`
	Created  string `json:"created"`
	Current  bool   `json:"current"`
}

// history runs rollout history SERVICE --json and checks the shape of its
// output: numbers ascending, created in RFC 3339 and not decreasing, and
// exactly one current entry.
func (p *project) history(service string) []historyEntry {
	p.t.Helper()
	res := p.mustRun("rollout", "history", service, "--json")
	var entries []historyEntry
	dec := json.NewDecoder(strings.NewReader(res.Stdout))
	if err := dec.Decode(&entries); err != nil {
		p.t.Fatalf("rollout history --json output is not a JSON array of entries: %v\n%s", err, res.Stdout)
	}
	var last time.Time
	current := 0
	for i, e := range entries {
		created, err := time.Parse(time.RFC3339, e.Created)
		if err != nil {
			p.t.Errorf("entry %d: created %q is not RFC 3339: %v", e.Number, e.Created, err)
		}
		if i > 0 && e.Number <= entries[i-1].Number {
			p.t.Errorf("entry numbers are not ascending: %+v", entries)
		}
		if created.Before(last) {
			p.t.Errorf("entries are not oldest first: %+v", entries)
		}
		last = created
		if e.Current {
			current++
		}
	}
	if current != 1 {
		p.t.Errorf("history marks %d entries current, want 1: %+v", current, entries)
	}
	return entries
}

// entryOf returns the history entry of revision rev, failing the test
// when there is none.
func entryOf(t testing.TB, entries []historyEntry, rev string) historyEntry {
	t.Helper()
	for _, e := range entries {
		if e.Revision == rev {
			return e
		}
	}
	t.Fatalf("history has no entry for revision %s: %+v", rev, entries)
	return historyEntry{}
}

// startPublishedCollector runs the collector with its OTLP/HTTP port 4318
// published on 127.0.0.1 only, and returns it with the endpoint URL for
// OTEL_EXPORTER_OTLP_ENDPOINT. It fails the test when the engine bound the
// port to any other address.
func startPublishedCollector(t testing.TB) (*collector, string) {
	t.Helper()
	ctx := context.Background()
	port := mobynetwork.MustParsePort("4318/tcp")
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        collectorImage,
			ExposedPorts: []string{"4318/tcp"},
			HostConfigModifier: func(hc *mobycontainer.HostConfig) {
				hc.PortBindings = mobynetwork.PortMap{
					port: {{HostIP: netip.MustParseAddr("127.0.0.1")}},
				}
			},
			WaitingFor: wait.ForLog("Everything is ready").WithStartupTimeout(60 * time.Second),
		},
		Started: true,
	})
	if c != nil {
		t.Cleanup(func() { _ = testcontainers.TerminateContainer(c) })
	}
	if err != nil {
		t.Fatalf("start collector: %v", err)
	}
	requireLoopbackBindings(t, c, port)

	host, err := c.Host(ctx)
	if err != nil {
		t.Fatalf("collector host: %v", err)
	}
	mapped, err := c.MappedPort(ctx, "4318/tcp")
	if err != nil {
		t.Fatalf("collector port 4318: %v", err)
	}
	endpoint := strings.TrimSuffix(loopbackURL(t, host, int(mapped.Num()), ""), "/")
	return &collector{container: c}, endpoint
}

// requireLoopbackBindings fails unless every host binding of port is on
// 127.0.0.1.
func requireLoopbackBindings(t testing.TB, c testcontainers.Container, port mobynetwork.Port) {
	t.Helper()
	info, err := c.Inspect(context.Background())
	if err != nil {
		t.Fatalf("inspect collector: %v", err)
	}
	bindings := info.NetworkSettings.Ports[port]
	if len(bindings) == 0 {
		t.Fatalf("collector port %s is not published: %v", port, info.NetworkSettings.Ports)
	}
	for _, b := range bindings {
		if !b.HostIP.IsLoopback() {
			t.Fatalf("collector port %s is bound to %s, want 127.0.0.1 only", port, b.HostIP)
		}
	}
}

// span is one span that the collector received, with its resource.
type span struct {
	Name     string
	TraceID  string
	SpanID   string
	ParentID string
	Resource resource
}

// spans returns every span the collector wrote so far.
func (c *collector) spans(t testing.TB) []span {
	t.Helper()
	rc, err := c.container.CopyFileFromContainer(context.Background(), "/data/telemetry.jsonl")
	if err != nil {
		return nil
	}
	defer rc.Close()
	return parseSpans(t, rc)
}

type otlpSpans struct {
	otlpResource
	ScopeSpans []struct {
		Spans []struct {
			TraceID      string `json:"traceId"`
			SpanID       string `json:"spanId"`
			ParentSpanID string `json:"parentSpanId"`
			Name         string `json:"name"`
		} `json:"spans"`
	} `json:"scopeSpans"`
}

// parseSpans reads the collector's OTLP JSON lines, as parseTelemetry
// does, and returns the spans with their names.
func parseSpans(t testing.TB, r io.Reader) []span {
	t.Helper()
	var out []span
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		var doc struct {
			ResourceSpans []otlpSpans `json:"resourceSpans"`
		}
		if err := json.Unmarshal(scanner.Bytes(), &doc); err != nil {
			continue
		}
		for _, rs := range doc.ResourceSpans {
			res := toResource(rs.otlpResource)
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out = append(out, span{Name: s.Name, TraceID: s.TraceID, SpanID: s.SpanID,
						ParentID: s.ParentSpanID, Resource: res})
				}
			}
		}
	}
	return out
}

// instanceIDsByVersion returns, per service.version, the distinct
// service.instance.id values that sent telemetry for the project.
func (c *collector) instanceIDsByVersion(t testing.TB, project string) map[string]map[string]bool {
	t.Helper()
	spans, metrics := c.resources(t)
	ids := map[string]map[string]bool{}
	for _, r := range append(spans, metrics...) {
		if r["service.namespace"] != project {
			continue
		}
		v := r["service.version"]
		if ids[v] == nil {
			ids[v] = map[string]bool{}
		}
		ids[v][r["service.instance.id"]] = true
	}
	return ids
}
