//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
)

// project is one compose project of a test, in its own directory and with a
// unique name, removed when the test ends.
type project struct {
	t    testing.TB
	Name string
	Dir  string
}

// newProject creates a project directory with a unique project name. The
// cleanup runs clusterctl down and then removes by label anything left, so
// a failed test leaves nothing on the shared engine.
func newProject(t testing.TB) *project {
	t.Helper()
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	name := "e2e-" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 30 {
		name = name[:30]
	}
	p := &project{t: t, Name: strings.TrimRight(name, "-") + "-" + hex.EncodeToString(suffix), Dir: t.TempDir()}
	t.Cleanup(p.destroy)
	return p
}

func (p *project) destroy() {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p.run(ctx, "-p", p.Name, "down", "--volumes")
	list, _ := engine.ContainerList(ctx, container.ListOptions{All: true, Filters: p.filter()})
	for _, c := range list {
		p.t.Logf("cleanup: removing leftover container %v", c.Names)
		_ = engine.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
	nets, _ := engine.NetworkList(ctx, network.ListOptions{Filters: p.filter()})
	for _, n := range nets {
		p.t.Logf("cleanup: removing leftover network %s", n.Name)
		_ = engine.NetworkRemove(ctx, n.ID)
	}
}

func (p *project) filter() filters.Args {
	return filters.NewArgs(filters.Arg("label", "io.clusterctl.project="+p.Name))
}

// composeVars are the values a compose template can use.
type composeVars struct {
	Project    string
	WorkerDir  string
	Image      string
	Port       int
	OTelNet    string
	Instances  int
	ExtraEnv   map[string]string
	Health     bool
	HealthRate string
}

// writeCompose renders a compose file template into the project directory.
func (p *project) writeCompose(text string, vars composeVars) {
	p.t.Helper()
	vars.Project = p.Name
	vars.WorkerDir = filepath.Join(repoRoot, "deployments", "demo", "worker")
	if vars.Image == "" {
		vars.Image = workerImage
	}
	tmpl := template.Must(template.New("compose").Parse(text))
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, vars); err != nil {
		p.t.Fatalf("render compose file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(p.Dir, "compose.yaml"), buf.Bytes(), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// result is the outcome of one clusterctl run.
type result struct {
	Code   int
	Stdout string
	Stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit code %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// run runs clusterctl in the project directory with plain progress.
func (p *project) run(ctx context.Context, args ...string) result {
	cmd := exec.CommandContext(ctx, clusterctlBin, append([]string{"--progress", "plain"}, args...)...)
	cmd.Dir = p.Dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		res.Code = exitErr.ExitCode()
	case err != nil:
		res.Code = -1
		res.Stderr += "\n(run: " + err.Error() + ")"
	}
	return res
}

// mustRun runs clusterctl and fails the test unless it exits 0.
func (p *project) mustRun(args ...string) result {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res := p.run(ctx, args...)
	if res.Code != 0 {
		p.t.Fatalf("clusterctl %s: %s", strings.Join(args, " "), res)
	}
	return res
}

// psRow is the part of ps --json that the tests check.
type psRow struct {
	Project  string `json:"project"`
	Service  string `json:"service"`
	Instance int    `json:"instance"`
	Name     string `json:"name"`
	ID       string `json:"id"`
	State    string `json:"state"`
	Revision string `json:"revision"`
	Restarts int    `json:"restarts"`
}

func (p *project) ps() []psRow {
	p.t.Helper()
	res := p.mustRun("ps", "--json")
	var rows []psRow
	if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil {
		p.t.Fatalf("ps --json output is not JSON: %v\n%s", err, res.Stdout)
	}
	return rows
}

// containers returns the names of every container with the project label.
func (p *project) containers() []string {
	p.t.Helper()
	list, err := engine.ContainerList(context.Background(), container.ListOptions{All: true, Filters: p.filter()})
	if err != nil {
		p.t.Fatalf("list containers: %v", err)
	}
	var names []string
	for _, c := range list {
		names = append(names, c.Names[0])
	}
	return names
}

func (p *project) networks() []string {
	p.t.Helper()
	list, err := engine.NetworkList(context.Background(), network.ListOptions{Filters: p.filter()})
	if err != nil {
		p.t.Fatalf("list networks: %v", err)
	}
	var names []string
	for _, n := range list {
		names = append(names, n.Name)
	}
	return names
}

// requireNothingLeft fails unless the project has no container or network.
func (p *project) requireNothingLeft() {
	p.t.Helper()
	if c := p.containers(); len(c) > 0 {
		p.t.Errorf("containers left behind: %v", c)
	}
	if n := p.networks(); len(n) > 0 {
		p.t.Errorf("networks left behind: %v", n)
	}
}

// freeLoopbackPort returns a TCP port on 127.0.0.1 that nothing listens on.
func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// loopbackURL builds a URL for a published port and refuses any host that
// is not loopback, so that no test traffic leaves this machine.
func loopbackURL(t testing.TB, host string, port int, path string) string {
	t.Helper()
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Fatalf("refusing non-loopback endpoint %q", host)
	}
	return fmt.Sprintf("http://%s%s", net.JoinHostPort(host, fmt.Sprint(port)), path)
}

// workerReply is the JSON body of the demo worker's / endpoint.
type workerReply struct {
	Service    string `json:"service"`
	InstanceID string `json:"instance_id"`
	Version    string `json:"version"`
	Slot       *int   `json:"slot"`
}

// get sends one GET through a keep-alive client and decodes the reply.
func get(client *http.Client, url string) (workerReply, error) {
	resp, err := client.Get(url)
	if err != nil {
		return workerReply{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return workerReply{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var reply workerReply
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		return workerReply{}, fmt.Errorf("GET %s: decode: %w", url, err)
	}
	return reply, nil
}

// eventually polls cond every 200 ms until it returns nil or timeout passes,
// then fails with cond's last error.
func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
