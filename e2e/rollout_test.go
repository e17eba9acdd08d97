//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRollout_V1ToV2UnderLoad rolls four instances from v1 to v2 with up
// and parallelism 1, then to v3 with rollout and parallelism 2, under load.
// No request may fail, and every slot must end on a new container of the
// new revision.
func TestRollout_V1ToV2UnderLoad(t *testing.T) {
	t.Parallel()
	col := startCollector(t)
	p := newRolloutProject(t)
	port := freeLoopbackPort(t)
	url := loopbackURL(t, "127.0.0.1", port, "/")
	vars := composeVars{Image: workerImage, Port: port, OTelNet: col.Network, Instances: 4}
	p.writeRollout(rolloutSpec{}, vars)
	p.mustRun("up")
	v1 := p.ps()
	requireReadySlots(t, v1, 4)
	load := startLoad(t, port, loadOptions{})

	vars.Image = workerV2
	p.writeRollout(rolloutSpec{Parallelism: 1}, vars)
	p.mustRun("up")
	v2 := p.ps()
	requireReplaced(t, v1, v2, 4)
	requireOnlyVersion(t, url, "v2")

	vars.Image = workerV3
	p.writeRollout(rolloutSpec{Parallelism: 2, Delay: "500ms"}, vars)
	p.mustRun("rollout", "web")
	requireReplaced(t, v2, p.ps(), 4)
	requireOnlyVersion(t, url, "v3")

	summary := load.Stop()
	summary.requireClean(t, "v1", "v2", "v3")
	for _, v := range []string{"v1", "v2", "v3"} {
		if summary.Versions[v] == 0 {
			t.Errorf("the load got no response from version %s: %v", v, summary.Versions)
		}
	}
	eventually(t, 60*time.Second, func() error {
		return checkReplacedTelemetry(t, col, p.Name, 4)
	})
}

// checkReplacedTelemetry returns nil once the collector received telemetry
// from at least count service.instance.id values with service.version v2,
// none of which also sent telemetry as v1.
func checkReplacedTelemetry(t testing.TB, col *collector, project string, count int) error {
	ids := col.instanceIDsByVersion(t, project)
	if len(ids["v1"]) < count || len(ids["v2"]) < count {
		return fmt.Errorf("telemetry from %d v1 and %d v2 service.instance.id values, want %d of each (all: %v)",
			len(ids["v1"]), len(ids["v2"]), count, ids)
	}
	for id := range ids["v2"] {
		if ids["v1"][id] {
			return fmt.Errorf("service.instance.id %s sent telemetry as v1 and as v2; a replaced instance needs a new ID", id)
		}
	}
	return nil
}

// TestRollout_BadRevisionRollsBack rolls two v2 instances to a v3 that
// fails in three ways. Each rollout must exit 1, name the failed instance
// with its exit code or health output and last log lines, and leave every
// slot on v2 while no request fails.
func TestRollout_BadRevisionRollsBack(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		spec rolloutSpec
		// versions lists the versions allowed in responses during the
		// rollout.
		versions []string
		// keepsOld is true when v3 never gets ready, so the v2 containers
		// must be the same ones afterwards.
		keepsOld bool
		want     []string
	}{
		{
			name:     "exits at start",
			env:      map[string]string{"DEMO_EXIT_AFTER": "200ms", "DEMO_EXIT_CODE": "3"},
			versions: []string{"v2"},
			keepsOld: true,
			want:     []string{"exited with code 3", "exiting with code 3: DEMO_EXIT_AFTER=200ms elapsed"},
		},
		{
			name: "never ready",
			env:  map[string]string{"DEMO_NEVER_READY": "1"},
			// 2s, so that on a busy engine the last health output is the
			// 503 response rather than a timed-out check.
			spec:     rolloutSpec{HealthTimeout: "2s", HealthRetries: 2},
			versions: []string{"v2"},
			keepsOld: true,
			want:     []string{"healthcheck: 503 Service Unavailable", "worker started"},
		},
		{
			name:     "crashes after ready",
			env:      map[string]string{"DEMO_CRASH_AFTER_READY": "1s"},
			spec:     rolloutSpec{Monitor: "5s"},
			versions: []string{"v2", "v3"},
			want:     []string{"exited with code 1", "exiting with code 1: DEMO_CRASH_AFTER_READY=1s elapsed since ready"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newRolloutProject(t)
			port := freeLoopbackPort(t)
			vars := composeVars{Image: workerV2, Port: port, Instances: 2}
			p.writeRollout(rolloutSpec{}, vars)
			p.mustRun("up")
			before := p.ps()
			requireReadySlots(t, before, 2)
			v2 := revisionOf(t, before)
			load := startLoad(t, port, loadOptions{})

			vars.Image, vars.ExtraEnv = workerV3, tc.env
			p.writeRollout(tc.spec, vars)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			res := p.run(ctx, "up")

			if res.Code != 1 {
				t.Errorf("up of a bad revision: want exit code 1, got %s", res)
			}
			for _, want := range append([]string{"rolled back", p.Name + "-web-"}, tc.want...) {
				if !strings.Contains(res.Stderr, want) {
					t.Errorf("stderr does not contain %q:\n%s", want, res.Stderr)
				}
			}
			after := p.ps()
			requireRevision(t, after, 2, v2)
			if tc.keepsOld {
				requireSameContainers(t, before, after)
			}
			requireOnlyVersion(t, loopbackURL(t, "127.0.0.1", port, "/"), "v2")
			requireRoles(t, p, 2)
			load.Stop().requireClean(t, tc.versions...)
		})
	}
}

// requireSameContainers fails unless after has the containers of before,
// slot for slot.
func requireSameContainers(t testing.TB, before, after []psRow) {
	t.Helper()
	ids := map[int]string{}
	for _, r := range before {
		ids[r.Instance] = r.ID
	}
	for _, r := range after {
		if ids[r.Instance] != r.ID {
			t.Errorf("slot %d runs container %s, want the old container %s that never left", r.Instance, r.ID, ids[r.Instance])
		}
	}
}

// requireRoles fails unless the project's containers, stopped ones
// included, are the given number of instances and one front door.
func requireRoles(t testing.TB, p *project, instances int) {
	t.Helper()
	var roles map[string][]string
	// A lock container of a command that just ended may take a moment to
	// remove itself.
	eventually(t, 10*time.Second, func() error {
		roles = p.rolesOf()
		if len(roles) == 2 && len(roles["instance"]) == instances && len(roles["frontdoor"]) == 1 {
			return nil
		}
		return fmt.Errorf("project containers by role are %v, want %d instances and 1 front door only", roles, instances)
	})
}

// TestRollout_UndoAndHistory rolls v1 to v2, then checks rollout history,
// status, undo, restart and undo --to-revision under load.
func TestRollout_UndoAndHistory(t *testing.T) {
	t.Parallel()
	p := newRolloutProject(t)
	port := freeLoopbackPort(t)
	url := loopbackURL(t, "127.0.0.1", port, "/")
	vars := composeVars{Image: workerImage, Port: port, Instances: 2}
	p.writeRollout(rolloutSpec{}, vars)
	started := time.Now()
	p.mustRun("up")
	v1Rows := p.ps()
	requireReadySlots(t, v1Rows, 2)
	v1 := revisionOf(t, v1Rows)
	load := startLoad(t, port, loadOptions{})

	vars.Image = workerV2
	p.writeRollout(rolloutSpec{}, vars)
	p.mustRun("up")
	v2Rows := p.ps()
	v2 := requireReplaced(t, v1Rows, v2Rows, 2)

	history := p.history("web")
	requireHistoryEntry(t, history, v1, workerImage, false, started)
	requireHistoryEntry(t, history, v2, workerV2, true, started)
	if entryOf(t, history, v1).Number >= entryOf(t, history, v2).Number {
		t.Errorf("v1 is not listed before v2: %+v", history)
	}
	requireStatus(t, p.mustRun("rollout", "status"), v2, 2)

	p.mustRun("rollout", "undo", "web")
	undone := p.ps()
	requireRevision(t, undone, 2, v1)
	requireNewContainers(t, v2Rows, undone)
	requireOnlyVersion(t, url, "v1")
	history = p.history("web")
	if !entryOf(t, history, v1).Current {
		t.Errorf("after undo, history does not mark v1's revision %s current: %+v", v1, history)
	}

	p.mustRun("rollout", "restart", "web")
	restarted := p.ps()
	requireReadySlots(t, restarted, 2)
	if rev := revisionOf(t, restarted); rev != v1 {
		t.Errorf("rollout restart moved web from the running revision %s to %s; want the same revision in new containers", v1, rev)
	}
	requireNewContainers(t, undone, restarted)

	// A revision that returns gets a new number, so the number comes from
	// the history as it is now.
	number := entryOf(t, p.history("web"), v2).Number
	p.mustRun("rollout", "undo", "web", "--to-revision", fmt.Sprint(number))
	requireRevision(t, p.ps(), 2, v2)
	requireOnlyVersion(t, url, "v2")

	load.Stop().requireClean(t, "v1", "v2")
}

// requireHistoryEntry fails unless history has an entry for rev with the
// image, current flag and a creation time since started.
func requireHistoryEntry(t testing.TB, history []historyEntry, rev, image string, current bool, started time.Time) {
	t.Helper()
	e := entryOf(t, history, rev)
	if e.Image != image {
		t.Errorf("history entry %d: image %q, want %q", e.Number, e.Image, image)
	}
	if e.Current != current {
		t.Errorf("history entry %d: current %v, want %v", e.Number, e.Current, current)
	}
	created, err := time.Parse(time.RFC3339, e.Created)
	if err == nil && (created.Before(started.Add(-2*time.Second)) || created.After(time.Now().Add(2*time.Second))) {
		t.Errorf("history entry %d: created %s, want a time during this test (since %s)", e.Number, e.Created, started.Format(time.RFC3339))
	}
}

// requireStatus fails unless rollout status exited 0 and printed a line
// for web with the file's revision and the count of instances on it.
func requireStatus(t testing.TB, res result, rev string, count int) {
	t.Helper()
	countField := regexp.MustCompile(fmt.Sprintf(`\b%d\b`, count))
	for line := range strings.SplitSeq(res.Stdout, "\n") {
		if strings.Contains(line, "web") && strings.Contains(line, rev) &&
			countField.MatchString(strings.ReplaceAll(line, rev, "")) {
			return
		}
	}
	t.Errorf("rollout status prints no line with web, revision %s and count %d:\n%s", rev, count, res)
}

// TestRollout_InterruptAndRerun interrupts up in the middle of a rollout:
// up must exit 130 with every slot served by one ready instance, and a
// second up must finish the rollout.
func TestRollout_InterruptAndRerun(t *testing.T) {
	t.Parallel()
	p, port, v1Rows := upForRerun(t, "1s")
	load := startLoad(t, port, loadOptions{})

	run := p.start(nil, "up")
	p.waitForNewInstance(revisionOf(t, v1Rows), "ready")
	if err := run.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	res := run.wait(t, 2*time.Minute)
	t.Logf("interrupted up: %s", res)
	if res.Code != 130 {
		t.Errorf("up after SIGINT: want exit code 130, got exit code %d", res.Code)
	}
	mid := p.ps()
	requireServedSlots(t, mid, 3)

	p.mustRun("up")
	final := p.ps()
	v2 := requireReplaced(t, v1Rows, final, 3)
	for _, r := range mid {
		if r.Revision != v2 && r.Revision != v1Rows[0].Revision {
			t.Errorf("after the interrupt, slot %d ran revision %s, neither v1 nor v2", r.Instance, r.Revision)
		}
	}
	requireRoles(t, p, 3)
	load.Stop().requireClean(t, "v1", "v2")
}

// requireServedSlots fails unless every slot 0..count-1 has exactly one
// instance and every instance is ready. It reports a slot with two
// instances apart from a slot with none, because an interrupted rollout
// that leaves both the old and the new instance of a slot running still
// serves every slot.
func requireServedSlots(t testing.TB, rows []psRow, count int) {
	t.Helper()
	perSlot := map[int][]string{}
	for _, r := range rows {
		perSlot[r.Instance] = append(perSlot[r.Instance], r.Name)
		if r.State != "ready" {
			t.Errorf("instance %s is %s, want ready", r.Name, r.State)
		}
	}
	for slot := range count {
		switch n := len(perSlot[slot]); {
		case n == 0:
			t.Errorf("slot %d has no instance", slot)
		case n > 1:
			t.Errorf("slot %d has %d instances %v, want the interrupted replacement finished or undone", slot, n, perSlot[slot])
		}
	}
	if len(perSlot) != count {
		t.Errorf("ps lists slots %v, want 0..%d", perSlot, count-1)
	}
}

// TestRollout_KillAndRerun SIGKILLs up in the middle of a rollout, once
// while a new instance is starting and once after it is ready. The lock
// that the killed up leaves must not block the next up, which must
// converge to one ready instance per slot on the new revision, with
// nothing else left over.
func TestRollout_KillAndRerun(t *testing.T) {
	t.Parallel()
	for _, state := range []string{"starting", "ready"} {
		t.Run("new instance "+state, func(t *testing.T) {
			t.Parallel()
			p, port, v1Rows := upForRerun(t, "3s")
			load := startLoad(t, port, loadOptions{})

			run := p.start(nil, "up")
			p.waitForNewInstance(revisionOf(t, v1Rows), state)
			if err := run.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			run.wait(t, time.Minute)

			res := p.runWith(nil, "up")
			if res.Code != 0 {
				if strings.Contains(res.Stderr, "is locked by") {
					t.Logf("the killed up's lock was released %s after the rerun failed", lockReleaseDelay(p))
				}
				t.Fatalf("up after a killed up: want exit code 0, got %s", res)
			}
			requireReplaced(t, v1Rows, p.ps(), 3)
			requireRoles(t, p, 3)
			load.Stop().requireClean(t, "v1", "v2")
		})
	}
}

// lockReleaseDelay polls the engine until the project has no container
// with the role lock, for at most 30 s, and returns how long that took.
func lockReleaseDelay(p *project) time.Duration {
	start := time.Now()
	for time.Since(start) < 30*time.Second && len(p.rolesOf()["lock"]) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start).Round(10 * time.Millisecond)
}

// upForRerun starts three v1 instances and writes a v2 file whose
// instances get ready readyAfter after they start, which leaves time to
// stop the rollout between two steps.
func upForRerun(t *testing.T, readyAfter string) (*project, int, []psRow) {
	t.Helper()
	p := newRolloutProject(t)
	port := freeLoopbackPort(t)
	vars := composeVars{Image: workerImage, Port: port, Instances: 3}
	p.writeRollout(rolloutSpec{}, vars)
	p.mustRun("up")
	rows := p.ps()
	requireReadySlots(t, rows, 3)
	vars.Image, vars.ExtraEnv = workerV2, map[string]string{"DEMO_READY_AFTER": readyAfter}
	p.writeRollout(rolloutSpec{Parallelism: 1}, vars)
	return p, port, rows
}

// TestRollout_ConcurrentFailsFast runs up, rollout, scale and down while a
// rollout holds the project: each must fail at once, naming the holder,
// and the rollout must still succeed.
func TestRollout_ConcurrentFailsFast(t *testing.T) {
	t.Parallel()
	p := newRolloutProject(t)
	port := freeLoopbackPort(t)
	vars := composeVars{Image: workerImage, Port: port, Instances: 2}
	p.writeRollout(rolloutSpec{}, vars)
	p.mustRun("up")
	v1Rows := p.ps()
	requireReadySlots(t, v1Rows, 2)
	load := startLoad(t, port, loadOptions{})

	vars.Image, vars.ExtraEnv = workerV2, map[string]string{"DEMO_READY_AFTER": "4s"}
	p.writeRollout(rolloutSpec{Parallelism: 1, Delay: "1s"}, vars)
	holder := p.start(nil, "rollout", "web")
	p.waitForNewInstance(revisionOf(t, v1Rows))

	for _, args := range [][]string{{"up"}, {"rollout", "web"}, {"scale", "web=3"}, {"down"}} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res := p.run(ctx, args...)
		cancel()
		if res.Code != 1 {
			t.Errorf("%s during a rollout: want exit code 1, got %s", args[0], res)
		}
		for _, want := range []string{"is locked by", "rollout"} {
			if !strings.Contains(res.Stderr, want) {
				t.Errorf("%s during a rollout: stderr does not contain %q:\n%s", args[0], want, res.Stderr)
			}
		}
	}
	if holder.exited() {
		t.Errorf("the rollout ended before the competing commands returned, so they waited for the lock instead of failing at once")
	}

	if res := holder.wait(t, 3*time.Minute); res.Code != 0 {
		t.Fatalf("rollout holding the lock: want exit code 0, got %s", res)
	}
	requireReplaced(t, v1Rows, p.ps(), 2)
	load.Stop().requireClean(t, "v1", "v2")
}

// TestRollout_IgnoresSIGTERM replaces instances that ignore SIGTERM: each
// must be killed after its 2 s stop_grace_period, and stderr must report
// the kill.
func TestRollout_IgnoresSIGTERM(t *testing.T) {
	t.Parallel()
	p := newRolloutProject(t)
	port := freeLoopbackPort(t)
	spec := rolloutSpec{StopGrace: "2s"}
	vars := composeVars{Image: workerImage, Port: port, Instances: 2,
		ExtraEnv: map[string]string{"DEMO_IGNORE_SIGTERM": "1"}}
	p.writeRollout(spec, vars)
	p.mustRun("up")
	v1Rows := p.ps()
	requireReadySlots(t, v1Rows, 2)
	load := startLoad(t, port, loadOptions{})

	vars.Image = workerV2
	p.writeRollout(spec, vars)
	res := p.mustRun("up")

	if !strings.Contains(res.Stderr, "killed after stop_grace_period") {
		t.Errorf("stderr does not contain %q:\n%s", "killed after stop_grace_period", res.Stderr)
	}
	requireReplaced(t, v1Rows, p.ps(), 2)
	load.Stop().requireClean(t, "v1", "v2")
}

// TestRollout_OwnSpans runs up and rollout with OTEL_EXPORTER_OTLP_ENDPOINT
// in clusterctl's environment: the collector must receive clusterctl's
// spans for the commands, the batches and the instance replacements.
func TestRollout_OwnSpans(t *testing.T) {
	t.Parallel()
	col, endpoint := startPublishedCollector(t)
	env := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint}
	p := newRolloutProject(t)
	vars := composeVars{Image: workerImage, Port: freeLoopbackPort(t), Instances: 2}
	p.writeRollout(rolloutSpec{}, vars)
	if res := p.runWith(env, "up"); res.Code != 0 {
		t.Fatalf("up: want exit code 0, got %s", res)
	}
	vars.Image = workerV2
	p.writeRollout(rolloutSpec{Parallelism: 1}, vars)
	if res := p.runWith(env, "rollout", "web"); res.Code != 0 {
		t.Fatalf("rollout: want exit code 0, got %s", res)
	}

	eventually(t, 30*time.Second, func() error {
		return checkOwnSpans(col.spans(t))
	})
}

// checkOwnSpans returns nil once the spans of service clusterctl include
// a span per command, two rollout batches and two instance replacements,
// with the batches in the trace of the rollout command.
func checkOwnSpans(spans []span) error {
	counts := map[string]int{}
	traces := map[string]string{}
	for _, s := range spans {
		if s.Resource["service.name"] != "clusterctl" {
			continue
		}
		counts[s.Name]++
		if s.Name == "clusterctl rollout" {
			traces[s.TraceID] = s.Name
		}
	}
	want := map[string]int{"clusterctl up": 1, "clusterctl rollout": 1, "rollout batch": 2, "instance replace": 2}
	for name, n := range want {
		if counts[name] < n {
			return fmt.Errorf("collector has %d spans named %q from service clusterctl, want %d or more (all: %v)",
				counts[name], name, n, counts)
		}
	}
	for _, s := range spans {
		if s.Name == "rollout batch" && traces[s.TraceID] == "" {
			return fmt.Errorf("span %q %s is not in the trace of a clusterctl rollout span", s.Name, s.SpanID)
		}
	}
	return nil
}
