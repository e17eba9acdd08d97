package orchestrator

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/pkg/stdcopy"
)

// crashLoop makes the instances whose names start with prefix act out a
// crash loop: each run exits with code 3 after 200 ms. restarting picks
// the phase that inspections show: waiting for the restart, or running
// again.
func crashLoop(engine *fakeEngine, prefix string, restarts int, restarting bool) {
	engine.inspectHook = func(name string, info *container.InspectResponse) {
		if !strings.HasPrefix(name, prefix) {
			return
		}
		exit := time.Now().Add(-100 * time.Millisecond)
		info.RestartCount = restarts
		info.State = &container.State{Status: container.StateRunning, Running: true,
			StartedAt: engineTime(time.Now().Add(-50 * time.Millisecond)), FinishedAt: engineTime(exit)}
		if restarting {
			info.State = &container.State{Status: container.StateRestarting, Running: true, Restarting: true,
				StartedAt: engineTime(exit.Add(-200 * time.Millisecond)), FinishedAt: engineTime(exit), ExitCode: 3}
		}
	}
}

// recordCrashes adds the events of restarts runs that exited with code 3
// after 200 ms to the engine's events of the container named name.
func recordCrashes(t testing.TB, engine *fakeEngine, prefix string, restarts int) {
	t.Helper()
	engine.mu.Lock()
	defer engine.mu.Unlock()
	var c *fakeContainer
	for _, candidate := range engine.containers {
		if strings.HasPrefix(candidate.name, prefix) {
			c = candidate
		}
	}
	if c == nil {
		t.Fatalf("no container named %s*", prefix)
	}
	end := time.Now().Add(-100 * time.Millisecond)
	add := func(action events.Action, at time.Time, code string) {
		attrs := map[string]string{LabelProject: c.config.Labels[LabelProject]}
		if code != "" {
			attrs["exitCode"] = code
		}
		engine.pastEvents = append(engine.pastEvents, events.Message{Type: events.ContainerEventType, Action: action,
			TimeNano: at.UnixNano(), Actor: events.Actor{ID: c.id, Attributes: attrs}})
	}
	add(events.ActionCreate, end.Add(-time.Minute), "")
	for _, run := range crashRuns(restarts, end, 200*time.Millisecond, 300*time.Millisecond, 3) {
		add(events.ActionStart, run.Started, "")
		add(events.ActionDie, run.Exited, "3")
	}
	add(events.ActionStart, end.Add(50*time.Millisecond), "")
}

func TestUp_CrashLoopFailsFast(t *testing.T) {
	t.Parallel()
	for _, restarting := range []bool{true, false} {
		t.Run(map[bool]string{true: "restarting", false: "running again"}[restarting], func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			crashLoop(engine, "shop-web-1-", 1, restarting)
			engine.logs = newFakeLogs()
			printed := map[string]bool{}
			crash := engine.inspectHook
			engine.inspectHook = func(name string, info *container.InspectResponse) {
				crash(name, info)
				if !printed[name] {
					printed[name] = true
					start := time.Now().Add(-time.Second)
					engine.logs.print(info.ID, stdcopy.Stdout, start, "worker started\n")
					engine.logs.print(info.ID, stdcopy.Stdout, start.Add(200*time.Millisecond),
						"exiting with code 3: DEMO_EXIT_AFTER=200ms elapsed\n")
				}
			}
			o, _ := newTestOrchestrator(engine)
			// The deadline only bounds a broken fail-fast path: Up must
			// return long before the hour of readiness it is given.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			err := o.Up(ctx, testProject(3, true), UpOptions{WaitTimeout: time.Hour})
			var inst *InstanceError
			if !errors.As(err, &inst) {
				t.Fatalf("Up error = %v, want an InstanceError", err)
			}
			if inst.Service != "web" || inst.Slot != 1 {
				t.Errorf("failed instance = %s.%d, want web.1", inst.Service, inst.Slot)
			}
			if restarting && !strings.Contains(inst.Reason, "is crash-looping: exited with code 3 after 200ms, sooner than min_uptime 1s") {
				t.Errorf("reason = %q, want the exit code, the run time and min_uptime", inst.Reason)
			}
			if !strings.Contains(inst.Reason, "restart 1") {
				t.Errorf("reason = %q, want the restart count", inst.Reason)
			}
			if len(inst.Logs) == 0 || inst.Logs[len(inst.Logs)-1] != "exiting with code 3: DEMO_EXIT_AFTER=200ms elapsed" {
				t.Errorf("logs = %q, want the instance's last line last", inst.Logs)
			}
			if names := engine.names(); len(names) != 0 {
				t.Errorf("containers left after a failed first up: %v", names)
			}
		})
	}
}

func TestUp_ExistingCrashLoopFails(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, events := newTestOrchestrator(engine)
	p := testProject(2, false)
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("first Up: %v", err)
	}
	before := engine.names()
	recordCrashes(t, engine, "shop-web-1-", 4)
	engine.mu.Lock()
	crashLoop(engine, "shop-web-1-", 4, false)
	engine.mu.Unlock()
	*events = nil

	err := o.Up(t.Context(), p, UpOptions{})

	var inst *InstanceError
	if !errors.As(err, &inst) {
		t.Fatalf("Up error = %v, want an InstanceError", err)
	}
	if inst.Slot != 1 {
		t.Errorf("failed slot = %d, want 1", inst.Slot)
	}
	for _, want := range []string{"is crash-looping: exited with code 3 after 200ms, sooner than min_uptime 1s", "restart 4", "rollout restart web"} {
		if !strings.Contains(inst.Reason, want) {
			t.Errorf("reason = %q, want %q", inst.Reason, want)
		}
	}
	after := engine.names()
	slices.Sort(before)
	slices.Sort(after)
	if !slices.Equal(before, after) {
		t.Errorf("containers = %v, want them unchanged: %v", after, before)
	}
	for _, e := range *events {
		if e.Kind == EventUpToDate {
			t.Errorf("event %+v reports up to date although an instance is crash-looping", e)
		}
	}
}

func TestUp_PastRestartsAreNoCrashLoop(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(2, false)
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("first Up: %v", err)
	}
	engine.mu.Lock()
	engine.inspectHook = func(_ string, info *container.InspectResponse) { info.RestartCount = 5 }
	engine.mu.Unlock()
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Errorf("Up with instances that restarted an hour ago: %v", err)
	}
}

func TestPS_CrashLoopRow(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	if err := o.Up(t.Context(), testProject(2, false), UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	recordCrashes(t, engine, "shop-web-0-", 3)
	engine.mu.Lock()
	crashLoop(engine, "shop-web-0-", 3, true)
	engine.mu.Unlock()

	rows, err := o.PS(t.Context(), "shop", nil)

	if err != nil {
		t.Fatalf("PS: %v", err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows = %+v, want 2", rows)
	}
	loop, fine := rows[0], rows[1]
	if loop.State != StateCrashloop || loop.ExitCode != 3 || loop.Restarts != 3 {
		t.Errorf("crash-looping row = %+v, want crashloop with exit code 3 and 3 restarts", loop)
	}
	if loop.UnstableExits != 3 {
		t.Errorf("unstable exits = %d, want 3", loop.UnstableExits)
	}
	if loop.NextRestartAt == nil || !strings.HasPrefix(loop.Backoff, "restarting") {
		t.Errorf("next restart = %v, backoff = %q, want a restart time", loop.NextRestartAt, loop.Backoff)
	}
	if fine.State != StateReady || fine.Backoff != "" || fine.NextRestartAt != nil {
		t.Errorf("healthy row = %+v, want ready without backoff", fine)
	}
}

func TestDescribe_OOMKilledAfterRestart(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	if err := o.Up(t.Context(), testProject(1, false), UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	engine.mu.Lock()
	var c *fakeContainer
	for _, candidate := range engine.containers {
		c = candidate
	}
	exit := c.started.Add(30 * time.Minute)
	for _, e := range []struct {
		action events.Action
		at     time.Time
	}{{events.ActionCreate, c.started}, {events.ActionStart, c.started}, {events.ActionOOM, exit}, {events.ActionDie, exit}} {
		attrs := map[string]string{LabelProject: "shop"}
		if e.action == events.ActionDie {
			attrs["exitCode"] = "137"
		}
		engine.pastEvents = append(engine.pastEvents, events.Message{Action: e.action, TimeNano: e.at.UnixNano(),
			Actor: events.Actor{ID: c.id, Attributes: attrs}})
	}
	engine.inspectHook = func(_ string, info *container.InspectResponse) {
		// The engine restarted the instance, which cleared OOMKilled.
		info.RestartCount = 1
		info.State.StartedAt = engineTime(exit.Add(time.Second))
		info.State.FinishedAt = engineTime(exit)
	}
	engine.mu.Unlock()

	desc, err := o.Describe(t.Context(), "shop", "web.0")

	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	inst := desc.Instances[0]
	if inst.LastReason != "OOMKilled" || !inst.OOMKilled || inst.ExitCode != 137 {
		t.Errorf("instance = %+v, want last reason OOMKilled with exit code 137", inst)
	}
	if inst.State != StateReady || inst.Restarts != 1 {
		t.Errorf("state %q with %d restarts, want ready with 1", inst.State, inst.Restarts)
	}
}

func TestUp_CrashLoopWithoutEvents(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// crashAgain makes the instance exit again while up watches it;
		// else its run reaches min_uptime.
		crashAgain bool
	}{
		{name: "exits again", crashAgain: true},
		{name: "run reaches min_uptime"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			o, _ := newTestOrchestrator(engine)
			p := testProject(1, false)
			if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
				t.Fatalf("first Up: %v", err)
			}
			// The instance runs again after two restarts, and the engine's
			// events no longer tell how the runs before ended.
			restartedAt := time.Now().Add(-500 * time.Millisecond)
			inspections := 0
			engine.mu.Lock()
			engine.inspectHook = func(_ string, info *container.InspectResponse) {
				inspections++
				info.RestartCount = 2
				info.State.StartedAt = engineTime(restartedAt)
				info.State.FinishedAt = engineTime(restartedAt.Add(-100 * time.Millisecond))
				if tc.crashAgain && inspections > 3 {
					info.RestartCount = 3
					info.State = restartingState(restartedAt, restartedAt.Add(300*time.Millisecond), 3)
				}
			}
			engine.mu.Unlock()

			err := o.Up(t.Context(), p, UpOptions{})

			if !tc.crashAgain {
				if err != nil {
					t.Errorf("Up: %v, want success once the run reached min_uptime", err)
				}
				return
			}
			var inst *InstanceError
			if !errors.As(err, &inst) {
				t.Fatalf("Up error = %v, want an InstanceError", err)
			}
			if !strings.Contains(inst.Reason, "is crash-looping: exited with code 3 after 300ms, sooner than min_uptime 1s") {
				t.Errorf("reason = %q, want the exit that up saw", inst.Reason)
			}
		})
	}
}
