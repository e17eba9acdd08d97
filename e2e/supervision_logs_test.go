//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// randomHex returns n random bytes as hex, for values a test must find or
// must not find in an output.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// requireSlots polls ps until it lists count ready web instances in slots
// 0..count-1, then checks the rows with requireReadySlots.
func (p *project) requireSlots(count int) {
	p.t.Helper()
	eventually(p.t, time.Minute, func() error {
		rows, err := p.tryPS()
		if err != nil {
			return err
		}
		ready := 0
		for _, r := range rows {
			if r.State == "ready" {
				ready++
			}
		}
		if len(rows) != count || ready != count {
			return fmt.Errorf("ps lists %d instances, %d ready; want %d ready: %+v", len(rows), ready, count, rows)
		}
		return nil
	})
	requireReadySlots(p.t, p.ps(), count)
}

// upBehindFrontDoor brings up instances of the rollout tests' web service
// behind a front door and returns the project and the front door's port.
func upBehindFrontDoor(t *testing.T, instances int) (*project, int) {
	t.Helper()
	p := newRolloutProject(t)
	port := freeLoopbackPort(t)
	p.writeRollout(rolloutSpec{}, composeVars{Image: workerImage, Port: port, Instances: instances})
	p.mustRun("up")
	p.requireSlots(instances)
	return p, port
}

// TestSupervision_ScaleUnderLoad scales 2 -> 5 -> 1 while 16 keep-alive
// clients and 3 slow clients send requests through the front door: the
// slots stay contiguous and no request fails, because new instances join
// only when ready and removed ones drain first.
func TestSupervision_ScaleUnderLoad(t *testing.T) {
	t.Parallel()
	p, port := upBehindFrontDoor(t, 2)

	load := startLoad(t, port, loadOptions{Clients: 16})
	eventually(t, 30*time.Second, func() error {
		if s := load.snapshot(); s.SleepRequests < defaultLoadSleepers {
			return errNotYet(fmt.Sprintf("%d /sleep requests done", s.SleepRequests))
		}
		return nil
	})
	p.mustRun("scale", "web=5")
	p.requireSlots(5)
	p.mustRun("scale", "web=1")
	p.requireSlots(1)
	summary := load.Stop()
	summary.requireClean(t, "v1")
	if len(summary.Instances) < 5 {
		t.Errorf("responses came from %d instances, want all 5 of the scale-up", len(summary.Instances))
	}

	before := p.ps()
	res := p.mustRun("scale", "web=1")
	if !strings.Contains(res.Stderr, "already runs 1 instance, nothing to do") {
		t.Errorf("scale to the current count does not say it did nothing:\n%s", res)
	}
	if after := p.ps(); len(after) != 1 || after[0].ID != before[0].ID {
		t.Errorf("scale to the current count changed the instances from %+v to %+v", before, after)
	}
}

// TestSupervision_DrainingInFrontDoor scales 2 instances to 1 while slow
// requests are in flight: ps reports slot 1 draining while its front door
// waits for them, before its stop signal, and no request fails.
func TestSupervision_DrainingInFrontDoor(t *testing.T) {
	t.Parallel()
	p, port := upBehindFrontDoor(t, 2)

	// Four slow clients keep requests in flight on both instances.
	load := startLoad(t, port, loadOptions{Clients: 1, Sleepers: 4, SleepFor: 4 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	scaled := make(chan result, 1)
	go func() { scaled <- p.run(ctx, "scale", "web=1") }()

	eventually(t, time.Minute, func() error {
		for _, r := range p.ps() {
			if r.Instance == 1 && r.State == "draining" {
				return nil
			}
		}
		return errNotYet("slot 1 draining in the front door")
	})
	if res := <-scaled; res.Code != 0 {
		t.Fatalf("scale web=1: %s", res)
	}
	load.Stop().requireClean(t, "v1")
}

// TestSupervision_ScaleRejectsInvalidCounts checks that invalid scale
// arguments exit 2 and name the value and the fix, before touching the
// engine.
func TestSupervision_ScaleRejectsInvalidCounts(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.writeRollout(rolloutSpec{}, composeVars{Image: workerImage, Port: freeLoopbackPort(t), Instances: 1})
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"scale", "web=lots"}, `invalid instance count "lots" for web`},
		{[]string{"scale", "web"}, `invalid scale argument "web": use SERVICE=N`},
		{[]string{"scale", "api=2"}, `no service "api"`},
		{[]string{"scale", "web=2", "web=3"}, "named twice"},
	}
	for _, tc := range cases {
		res := p.run(t.Context(), tc.args...)
		if res.Code != 2 || !strings.Contains(res.Stderr, tc.want) {
			t.Errorf("clusterctl %s: want exit code 2 and %q:\n%s", strings.Join(tc.args, " "), tc.want, res)
		}
	}
	if c := p.containers(); len(c) != 0 {
		t.Errorf("an invalid scale created containers: %v", c)
	}
}

// TestSupervision_LogsFollowSeesNewInstance starts logs -f before a scale
// up and a rollout, and expects the lines of the instances they created.
func TestSupervision_LogsFollowSeesNewInstance(t *testing.T) {
	t.Parallel()
	p := newRolloutProject(t)
	p.writeRollout(rolloutSpec{}, composeVars{Image: workerImage, Port: freeLoopbackPort(t), Instances: 1})
	p.mustRun("up")

	follow := p.start(nil, "logs", "-f")
	eventually(t, 30*time.Second, func() error {
		if !strings.Contains(follow.stdout.String(), "web.0 | ") {
			return errNotYet("logs -f printed web.0's lines")
		}
		return nil
	})
	p.mustRun("scale", "web=2")
	eventually(t, 30*time.Second, func() error {
		out := follow.stdout.String()
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "web.1 | ") && strings.Contains(line, "worker started") {
				return nil
			}
		}
		return errNotYet("a web.1 | ... worker started line in:\n" + out)
	})

	// A rollout replaces both containers: the new ones join the stream.
	p.mustRun("rollout", "restart", "web")
	for _, id := range p.instanceIDs() {
		eventually(t, 30*time.Second, func() error {
			if !strings.Contains(follow.stdout.String(), "instance_id="+id) {
				return errNotYet("the lines of the new instance " + id)
			}
			return nil
		})
	}
	if follow.exited() {
		t.Fatalf("logs -f ended on its own: %s", follow.res)
	}
	if err := follow.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if res := follow.wait(t, 30*time.Second); res.Code != 0 {
		t.Errorf("logs -f after Ctrl-C: want exit code 0:\n%s", res)
	}
}

// instanceIDs returns the service.instance.id of every web instance, from
// describe --json.
func (p *project) instanceIDs() []string {
	p.t.Helper()
	res := p.mustRun("describe", "web", "--json")
	var desc struct {
		Instances []struct {
			InstanceID string `json:"instance_id"`
		} `json:"instances"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &desc); err != nil {
		p.t.Fatalf("describe --json is not JSON: %v\n%s", err, res.Stdout)
	}
	var ids []string
	for _, inst := range desc.Instances {
		if inst.InstanceID == "" {
			p.t.Fatalf("describe --json lists an instance without instance_id:\n%s", res.Stdout)
		}
		ids = append(ids, inst.InstanceID)
	}
	return ids
}

// TestSupervision_LogsFollowAcrossCrash follows an instance that crashes
// 2 s after it is ready and that the engine restarts: logs -f prints the
// line the instance printed before it died, then the lines after the
// restart, and no line twice. It ends on its own once down removed the
// project.
func TestSupervision_LogsFollowAcrossCrash(t *testing.T) {
	t.Parallel()
	p := newRolloutProject(t)
	p.writeRollout(rolloutSpec{}, composeVars{Image: workerImage, Port: freeLoopbackPort(t), Instances: 1,
		ExtraEnv: map[string]string{"DEMO_CRASH_AFTER_READY": "2s"}})
	p.mustRun("up")

	follow := p.start(nil, "logs", "-f", "--timestamps")
	eventually(t, time.Minute, func() error {
		out := follow.stdout.String()
		crash := strings.Index(out, "exiting with code 1")
		if crash < 0 || !strings.Contains(out[crash:], "worker started") {
			return errNotYet("a crash line followed by a restart in:\n" + out)
		}
		return nil
	})
	p.mustRun("down")
	res := follow.wait(t, 30*time.Second)
	if res.Code != 0 {
		t.Errorf("logs -f after down: want exit code 0:\n%s", res)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		if !strings.HasPrefix(line, "web.0 | ") {
			t.Errorf("line %q has no web.0 prefix", line)
		}
		if seen[line] {
			t.Errorf("line printed twice: %q", line)
		}
		seen[line] = true
	}
}

// TestSupervision_DescribeMasksSecrets checks that describe shows a plain
// variable and masks the value of API_TOKEN, in text and in JSON.
func TestSupervision_DescribeMasksSecrets(t *testing.T) {
	t.Parallel()
	p := newRolloutProject(t)
	token, plain := "tok-"+randomHex(t, 12), "plain-"+randomHex(t, 6)
	p.writeRollout(rolloutSpec{}, composeVars{Image: workerImage, Port: freeLoopbackPort(t), Instances: 2,
		ExtraEnv: map[string]string{"API_TOKEN": token, "PLAIN_SETTING": plain}})
	p.mustRun("up")

	for _, target := range []string{"web", "web.1"} {
		res := p.mustRun("describe", target)
		if strings.Contains(res.Stdout, token) {
			t.Errorf("describe %s shows the API_TOKEN value:\n%s", target, res.Stdout)
		}
		if !strings.Contains(res.Stdout, "API_TOKEN=********") {
			t.Errorf("describe %s does not show API_TOKEN masked:\n%s", target, res.Stdout)
		}
		if !strings.Contains(res.Stdout, "PLAIN_SETTING="+plain) {
			t.Errorf("describe %s does not show PLAIN_SETTING:\n%s", target, res.Stdout)
		}
		for _, want := range []string{"Revision:", "Configuration:", "Healthcheck:", "Restarts:", "Last exit:", "Last log lines:", "worker started"} {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("describe %s has no %q:\n%s", target, want, res.Stdout)
			}
		}
	}

	res := p.mustRun("describe", "web", "--json")
	if strings.Contains(res.Stdout, token) {
		t.Errorf("describe --json shows the API_TOKEN value:\n%s", res.Stdout)
	}
	var desc struct {
		Service   string `json:"service"`
		Revision  string `json:"revision"`
		FrontDoor string `json:"front_door"`
		Instances []struct {
			Instance    int      `json:"instance"`
			Environment []string `json:"environment"`
			Logs        []string `json:"last_logs"`
		} `json:"instances"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &desc); err != nil {
		t.Fatalf("describe --json is not JSON: %v\n%s", err, res.Stdout)
	}
	if desc.Service != "web" || desc.Revision == "" || desc.FrontDoor == "" || len(desc.Instances) != 2 {
		t.Errorf("describe --json = %+v, want web with a revision, a front door and 2 instances", desc)
	}
}

// logRecord is one line of logs --json.
type logRecord struct {
	Service string `json:"service"`
	Slot    *int   `json:"slot"`
	Name    string `json:"name"`
	Stream  string `json:"stream"`
	Time    string `json:"time"`
	Message string `json:"message"`
}

// TestSupervision_LogsFormats checks logs --json, --timestamps, --tail and
// --since on a project whose second instance starts after a known time.
func TestSupervision_LogsFormats(t *testing.T) {
	t.Parallel()
	p := newRolloutProject(t)
	p.writeRollout(rolloutSpec{}, composeVars{Image: workerImage, Port: freeLoopbackPort(t), Instances: 1})
	p.mustRun("up")
	// The engine runs on this machine, so its clock is this clock.
	boundary := time.Now()
	p.mustRun("scale", "web=2")

	t.Run("json", func(t *testing.T) {
		res := p.mustRun("logs", "--json")
		records := parseLogRecords(t, res.Stdout)
		slots := map[int]bool{}
		for _, r := range records {
			if r.Service != "web" || r.Slot == nil || r.Stream != "stdout" || r.Message == "" {
				t.Errorf("record %+v lacks service web, a slot, stream stdout or a message", r)
				continue
			}
			slots[*r.Slot] = true
			if !strings.HasPrefix(r.Name, p.Name+"-web-"+fmt.Sprint(*r.Slot)+"-") {
				t.Errorf("record name %q is not a container name of slot %d", r.Name, *r.Slot)
			}
			if _, err := time.Parse(time.RFC3339Nano, r.Time); err != nil {
				t.Errorf("record time %q is not RFC 3339: %v", r.Time, err)
			}
		}
		if !slots[0] || !slots[1] {
			t.Errorf("records come from slots %v, want 0 and 1", slots)
		}
	})

	t.Run("timestamps", func(t *testing.T) {
		res := p.mustRun("logs", "--timestamps", "--tail", "1", "web.0")
		lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		if len(lines) != 1 {
			t.Fatalf("--tail 1 web.0 printed %d lines, want 1:\n%s", len(lines), res.Stdout)
		}
		rest, ok := strings.CutPrefix(lines[0], "web.0 | ")
		if !ok {
			t.Fatalf("line %q has no web.0 prefix", lines[0])
		}
		stamp, _, _ := strings.Cut(rest, " ")
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			t.Fatalf("timestamp %q is not RFC 3339: %v", stamp, err)
		}
		if !strings.HasSuffix(stamp, "Z") {
			t.Errorf("timestamp %q does not end with its zone Z", stamp)
		}
		if ts.After(boundary) {
			t.Errorf("web.0's last line is from %s, after the scale began at %s", ts, boundary)
		}
	})

	t.Run("since", func(t *testing.T) {
		res := p.mustRun("logs", "--since", boundary.UTC().Format(time.RFC3339Nano))
		if strings.Contains(res.Stdout, "web.0 | ") {
			t.Errorf("--since %s printed web.0's lines, which are older:\n%s", boundary, res.Stdout)
		}
		if !strings.Contains(res.Stdout, "web.1 | ") {
			t.Errorf("--since %s left out web.1's lines, which are newer:\n%s", boundary, res.Stdout)
		}
		res = p.mustRun("logs", "--since", "1h")
		if !strings.Contains(res.Stdout, "web.0 | ") || !strings.Contains(res.Stdout, "web.1 | ") {
			t.Errorf("--since 1h left out lines:\n%s", res.Stdout)
		}
	})

	t.Run("invalid since", func(t *testing.T) {
		res := p.run(t.Context(), "logs", "--since", "yesterday")
		if res.Code != 2 || !strings.Contains(res.Stderr, `"yesterday"`) || !strings.Contains(res.Stderr, "10m") {
			t.Errorf("logs --since yesterday: want exit code 2 naming the value and an example:\n%s", res)
		}
	})
}

// parseLogRecords decodes logs --json output, one object per line.
func parseLogRecords(t testing.TB, out string) []logRecord {
	t.Helper()
	var records []logRecord
	scanner := bufio.NewScanner(strings.NewReader(out))
	for scanner.Scan() {
		var r logRecord
		if err := json.Unmarshal(scanner.Bytes(), &r); err != nil {
			t.Fatalf("logs --json line %q is not a JSON object: %v", scanner.Text(), err)
		}
		records = append(records, r)
	}
	if len(records) == 0 {
		t.Fatal("logs --json printed nothing")
	}
	return records
}
