package orchestrator

import (
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
)

// now is the time every supervision case is computed at.
var now = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

func engineTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

const zeroStamp = "0001-01-01T00:00:00Z"

func runningSince(started time.Time) *container.State {
	return &container.State{Status: container.StateRunning, Running: true, StartedAt: engineTime(started), FinishedAt: zeroStamp}
}

// runningAfterExit is a container that the engine restarted at started
// after an exit at exited.
func runningAfterExit(started, exited time.Time) *container.State {
	s := runningSince(started)
	s.FinishedAt = engineTime(exited)
	return s
}

func restartingState(started, exited time.Time, code int) *container.State {
	return &container.State{Status: container.StateRestarting, Running: true, Restarting: true,
		StartedAt: engineTime(started), FinishedAt: engineTime(exited), ExitCode: code}
}

func exitedState(started, finished time.Time, code int) *container.State {
	return &container.State{Status: container.StateExited, StartedAt: engineTime(started), FinishedAt: engineTime(finished), ExitCode: code}
}

func inspection(state *container.State, restarts int, policy container.RestartPolicy, minUptime string) container.InspectResponse {
	labels := map[string]string{}
	if minUptime != "" {
		labels[LabelMinUptime] = minUptime
	}
	return container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: "c1", State: state, RestartCount: restarts,
			HostConfig: &container.HostConfig{RestartPolicy: policy}},
		Config: &container.Config{Labels: labels},
	}
}

// crashRuns returns n finished runs of the given length, one after the
// other with gap between them, the last one exiting at end.
func crashRuns(n int, end time.Time, length, gap time.Duration, code int) []containerRun {
	runs := make([]containerRun, n)
	for i := n - 1; i >= 0; i-- {
		runs[i] = containerRun{Started: end.Add(-length), Exited: end, ExitCode: code}
		end = end.Add(-length - gap)
	}
	return runs
}

var (
	unlessStopped = container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
	onFailure3    = container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 3}
	noRestart     = container.RestartPolicy{Name: container.RestartPolicyDisabled}
)

func TestSupervise_States(t *testing.T) {
	t.Parallel()
	healthy := runningSince(ago(300 * time.Millisecond))
	healthy.Health = &container.Health{Status: container.Healthy}
	healthyAfterCrash := runningAfterExit(ago(300*time.Millisecond), ago(400*time.Millisecond))
	healthyAfterCrash.Health = &container.Health{Status: container.Healthy}
	unhealthy := runningSince(ago(time.Hour))
	unhealthy.Health = &container.Health{Status: container.Unhealthy}
	cases := []struct {
		name      string
		info      container.InspectResponse
		runs      []containerRun
		complete  bool
		state     string
		exitCode  int
		unstable  int
		gaveUp    bool
		nextAfter time.Duration // NextRestart minus the last exit; 0 for none
	}{
		{
			name:  "never exited and up long",
			info:  inspection(runningSince(ago(time.Hour)), 0, unlessStopped, ""),
			state: StateReady,
		},
		{
			name:  "first run younger than min_uptime",
			info:  inspection(runningSince(ago(300*time.Millisecond)), 0, unlessStopped, ""),
			state: StateStarting,
		},
		{
			name:  "healthy on its first run",
			info:  inspection(healthy, 0, unlessStopped, ""),
			state: StateReady,
		},
		{
			name:  "unhealthy",
			info:  inspection(unhealthy, 0, unlessStopped, ""),
			state: StateUnhealthy,
		},
		{
			name:      "restarting after an exit sooner than min_uptime",
			info:      inspection(restartingState(ago(250*time.Millisecond), ago(50*time.Millisecond), 3), 1, unlessStopped, ""),
			runs:      []containerRun{{Started: ago(250 * time.Millisecond)}},
			complete:  true,
			state:     StateCrashloop,
			exitCode:  3,
			unstable:  1,
			nextAfter: 100 * time.Millisecond,
		},
		{
			name:      "restarting after a long run",
			info:      inspection(restartingState(ago(time.Hour), ago(50*time.Millisecond), 3), 1, unlessStopped, ""),
			runs:      []containerRun{{Started: ago(time.Hour), Exited: ago(40 * time.Millisecond), ExitCode: 3}},
			state:     StateStarting,
			exitCode:  3,
			nextAfter: 100 * time.Millisecond,
		},
		{
			name:      "backoff doubles with each short run",
			info:      inspection(restartingState(ago(250*time.Millisecond), ago(50*time.Millisecond), 3), 4, unlessStopped, ""),
			runs:      crashRuns(4, ago(50*time.Millisecond), 200*time.Millisecond, 300*time.Millisecond, 3),
			complete:  true,
			state:     StateCrashloop,
			exitCode:  3,
			unstable:  4,
			nextAfter: 800 * time.Millisecond,
		},
		{
			name: "backoff starts over after a run of 10s",
			info: inspection(restartingState(ago(250*time.Millisecond), ago(50*time.Millisecond), 3), 4, unlessStopped, ""),
			runs: append(append(crashRuns(2, ago(time.Minute), 200*time.Millisecond, 300*time.Millisecond, 3),
				containerRun{Started: ago(50 * time.Second), Exited: ago(30 * time.Second), ExitCode: 3}),
				containerRun{Started: ago(250 * time.Millisecond), Exited: ago(50 * time.Millisecond), ExitCode: 3}),
			state:     StateCrashloop,
			exitCode:  3,
			unstable:  1,
			nextAfter: 200 * time.Millisecond,
		},
		{
			name:      "backoff counts exits that the events lost as short",
			info:      inspection(restartingState(ago(250*time.Millisecond), ago(50*time.Millisecond), 3), 5, unlessStopped, ""),
			runs:      crashRuns(2, ago(50*time.Millisecond), 200*time.Millisecond, 300*time.Millisecond, 3),
			state:     StateCrashloop,
			exitCode:  3,
			unstable:  2,
			nextAfter: 1600 * time.Millisecond,
		},
		{
			name: "running again after unstable exits",
			info: inspection(runningAfterExit(ago(300*time.Millisecond), ago(400*time.Millisecond)), 3, unlessStopped, ""),
			runs: append(crashRuns(3, ago(400*time.Millisecond), 200*time.Millisecond, 300*time.Millisecond, 3),
				containerRun{Started: ago(300 * time.Millisecond)}),
			state:    StateCrashloop,
			exitCode: 3,
			unstable: 3,
		},
		{
			name:     "running again after a long run",
			info:     inspection(runningAfterExit(ago(300*time.Millisecond), ago(400*time.Millisecond)), 1, unlessStopped, ""),
			runs:     []containerRun{{Started: ago(2 * time.Hour), Exited: ago(400 * time.Millisecond), ExitCode: 1}},
			state:    StateStarting,
			exitCode: 1,
		},
		{
			name:     "running again past min_uptime",
			info:     inspection(runningAfterExit(ago(5*time.Second), ago(5100*time.Millisecond)), 3, unlessStopped, ""),
			runs:     crashRuns(3, ago(5100*time.Millisecond), 200*time.Millisecond, 300*time.Millisecond, 3),
			state:    StateReady,
			exitCode: 3,
			unstable: 3,
		},
		{
			name:     "healthy but still within min_uptime of a crash loop",
			info:     inspection(healthyAfterCrash, 1, unlessStopped, ""),
			runs:     crashRuns(1, ago(400*time.Millisecond), 200*time.Millisecond, 0, 3),
			state:    StateCrashloop,
			exitCode: 3,
			unstable: 1,
		},
		{
			name:     "min_uptime from the label",
			info:     inspection(runningAfterExit(ago(4*time.Second), ago(4100*time.Millisecond)), 2, unlessStopped, "10s"),
			runs:     crashRuns(2, ago(4100*time.Millisecond), 5*time.Second, 300*time.Millisecond, 3),
			state:    StateCrashloop,
			exitCode: 3,
			unstable: 2,
		},
		{
			name:  "running again and the events lost the exit",
			info:  inspection(runningAfterExit(ago(300*time.Millisecond), ago(400*time.Millisecond)), 2, unlessStopped, ""),
			state: StateCrashloop,
		},
		{
			name:     "running again and the events lost the start before the exit",
			info:     inspection(runningAfterExit(ago(300*time.Millisecond), ago(400*time.Millisecond)), 1, unlessStopped, ""),
			runs:     []containerRun{{Exited: ago(400 * time.Millisecond), ExitCode: 3}},
			state:    StateCrashloop,
			exitCode: 3,
		},
		{
			name:     "on-failure gave up",
			info:     inspection(exitedState(ago(2*time.Second), ago(1800*time.Millisecond), 3), 3, onFailure3, ""),
			runs:     crashRuns(4, ago(1800*time.Millisecond), 200*time.Millisecond, 300*time.Millisecond, 3),
			complete: true,
			state:    StateCrashloop,
			exitCode: 3,
			unstable: 4,
			gaveUp:   true,
		},
		{
			name:     "on-failure gave up after long runs",
			info:     inspection(exitedState(ago(3*time.Hour), ago(time.Hour), 1), 3, onFailure3, ""),
			runs:     crashRuns(4, ago(time.Hour), 2*time.Hour, time.Second, 1),
			state:    StateCrashloop,
			exitCode: 1,
			gaveUp:   true,
		},
		{
			name:     "on-failure with a clean exit",
			info:     inspection(exitedState(ago(1500*time.Millisecond), ago(time.Second), 0), 0, onFailure3, ""),
			runs:     crashRuns(1, ago(time.Second), 500*time.Millisecond, 0, 0),
			complete: true,
			state:    StateExited,
			unstable: 1,
		},
		{
			name:  "on-failure with a clean exit on its last restart",
			info:  inspection(exitedState(ago(time.Minute), ago(time.Second), 0), 3, onFailure3, ""),
			runs:  crashRuns(1, ago(time.Second), time.Minute, 0, 0),
			state: StateExited,
		},
		{
			name:     "no restart policy",
			info:     inspection(exitedState(ago(2*time.Second), ago(1900*time.Millisecond), 3), 0, noRestart, ""),
			state:    StateExited,
			exitCode: 3,
			unstable: 1,
		},
		{
			name: "exits before a start through the API do not count",
			info: inspection(runningAfterExit(ago(300*time.Millisecond), ago(400*time.Millisecond)), 1, onFailure3, ""),
			runs: append(crashRuns(6, ago(400*time.Millisecond), 200*time.Millisecond, 300*time.Millisecond, 3),
				containerRun{Started: ago(300 * time.Millisecond)}),
			state:    StateCrashloop,
			exitCode: 3,
			unstable: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sup := supervise(tc.info, policyOf(tc.info), runHistory{Runs: tc.runs, Complete: tc.complete}, now)
			if sup.State != tc.state {
				t.Errorf("state = %q, want %q", sup.State, tc.state)
			}
			code := 0
			if sup.LastExit != nil {
				code = sup.LastExit.ExitCode
			}
			if code != tc.exitCode {
				t.Errorf("last exit code = %d, want %d", code, tc.exitCode)
			}
			if sup.UnstableExits != tc.unstable {
				t.Errorf("unstable exits = %d, want %d", sup.UnstableExits, tc.unstable)
			}
			if sup.GaveUp != tc.gaveUp {
				t.Errorf("gave up = %t, want %t", sup.GaveUp, tc.gaveUp)
			}
			var next time.Duration
			if !sup.NextRestart.IsZero() {
				next = sup.NextRestart.Sub(parseTime(tc.info.State.FinishedAt))
			}
			if next != tc.nextAfter {
				t.Errorf("next restart %s after the exit, want %s", next, tc.nextAfter)
			}
		})
	}
}

func TestSupervise_OOMKillKeptAfterRestart(t *testing.T) {
	t.Parallel()
	var h runHistory
	for _, msg := range []events.Message{
		event(events.ActionCreate, ago(10*time.Second), ""),
		event(events.ActionStart, ago(9*time.Second), ""),
		event(events.ActionOOM, ago(5*time.Second), ""),
		event(events.ActionDie, ago(5*time.Second), "137"),
		event(events.ActionStart, ago(4*time.Second), ""),
	} {
		h.add(msg)
	}
	// Docker 28 clears State.OOMKilled when the container runs again.
	info := inspection(runningAfterExit(ago(4*time.Second), ago(5*time.Second)), 1, unlessStopped, "")
	sup := supervise(info, policyOf(info), h, now)
	if !h.Complete {
		t.Error("history with a create event is not complete")
	}
	if sup.LastExit == nil || !sup.LastExit.OOMKilled || sup.LastExit.ExitCode != 137 {
		t.Fatalf("last exit = %+v, want an OOM kill with code 137", sup.LastExit)
	}
	if sup.State != StateReady {
		t.Errorf("state = %q, want ready: the run before lasted 4s, longer than min_uptime", sup.State)
	}
}

func TestRunHistory_OOMAfterDie(t *testing.T) {
	t.Parallel()
	var h runHistory
	h.add(event(events.ActionStart, ago(9*time.Second), ""))
	h.add(event(events.ActionDie, ago(5*time.Second), "137"))
	h.add(event(events.ActionOOM, ago(5*time.Second), ""))
	h.add(event(events.ActionStart, ago(4*time.Second), ""))
	if len(h.Runs) != 2 {
		t.Fatalf("runs = %+v, want 2", h.Runs)
	}
	if !h.Runs[0].OOMKilled || h.Runs[1].OOMKilled {
		t.Errorf("runs = %+v, want the OOM kill on the first run only", h.Runs)
	}
	if h.Complete {
		t.Error("history without a create event is complete")
	}
}

func TestSupervise_EventsBehindInspection(t *testing.T) {
	t.Parallel()
	// The events, read first, saw the start but not yet the die.
	h := runHistory{Runs: []containerRun{{Started: ago(250 * time.Millisecond)}}}
	info := inspection(restartingState(ago(260*time.Millisecond), ago(60*time.Millisecond), 3), 1, unlessStopped, "")
	info.State.OOMKilled = true
	sup := supervise(info, policyOf(info), h, now)
	if sup.LastExit == nil {
		t.Fatal("no last exit")
	}
	if d, _ := sup.LastExit.duration(); d != 200*time.Millisecond {
		t.Errorf("last run lasted %s, want 200ms from StartedAt to FinishedAt", d)
	}
	if !sup.LastExit.OOMKilled || sup.LastExit.ExitCode != 3 {
		t.Errorf("last exit = %+v, want code 3 and the inspection's OOM kill", sup.LastExit)
	}
	if sup.State != StateCrashloop {
		t.Errorf("state = %q, want crashloop", sup.State)
	}
}

func event(action events.Action, at time.Time, exitCode string) events.Message {
	msg := events.Message{Type: events.ContainerEventType, Action: action, TimeNano: at.UnixNano(),
		Actor: events.Actor{ID: "c1", Attributes: map[string]string{}}}
	if exitCode != "" {
		msg.Actor.Attributes["exitCode"] = exitCode
	}
	return msg
}

func TestSupervision_CrashReason(t *testing.T) {
	t.Parallel()
	policy := supervisionPolicy{MinUptime: time.Second, Restart: onFailure3}
	short := containerRun{Started: ago(time.Second), Exited: ago(800 * time.Millisecond), ExitCode: 3}
	oom := containerRun{Started: ago(5 * time.Second), Exited: ago(time.Second), ExitCode: 137, OOMKilled: true}
	cases := []struct {
		name   string
		sup    supervision
		memory int64
		want   []string
	}{
		{
			name: "restarting crash loop",
			sup:  supervision{State: StateCrashloop, Restarts: 2, LastExit: &short, NextRestart: now, Policy: policy},
			want: []string{"is crash-looping: exited with code 3 after 200ms, sooner than min_uptime 1s", "restarts it (restart 2)"},
		},
		{
			name: "gave up",
			sup:  supervision{State: StateCrashloop, Restarts: 3, LastExit: &short, GaveUp: true, Policy: policy},
			want: []string{"exited with code 3", "gave up after 3 restarts (restart policy on-failure:3)"},
		},
		{
			name:   "OOM kill",
			sup:    supervision{State: StateStarting, Restarts: 1, LastExit: &oom, Policy: policy},
			memory: 64 << 20,
			want:   []string{"was killed for exceeding its memory limit of 64 MiB (OOMKilled, exit code 137) after 4s", "restarted it (restart 1)"},
		},
		{
			name: "exit unknown",
			sup:  supervision{State: StateCrashloop, Restarts: 1, Policy: policy},
			want: []string{"is crash-looping: exited; the engine restarted it (restart 1)"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.sup.crashReason(tc.memory)
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("reason %q does not contain %q", got, want)
				}
			}
		})
	}
}

func TestSupervision_Backoff(t *testing.T) {
	t.Parallel()
	cases := []struct {
		sup  supervision
		want string
	}{
		{supervision{State: StateCrashloop, NextRestart: now.Add(800 * time.Millisecond)}, "restarting in 800ms"},
		{supervision{State: StateCrashloop, NextRestart: now.Add(-time.Second)}, "restarting now"},
		{supervision{State: StateCrashloop, GaveUp: true, Restarts: 5}, "gave up after 5 restarts"},
		{supervision{State: StateCrashloop, UnstableExits: 4}, "4 unstable exits in a row"},
		{supervision{State: StateCrashloop, UnstableExits: 1}, "1 unstable exit"},
		{supervision{State: StateCrashloop, Restarts: 2}, ""},
		{supervision{State: StateReady}, ""},
	}
	for _, tc := range cases {
		if got := tc.sup.backoff(now); got != tc.want {
			t.Errorf("backoff of %+v = %q, want %q", tc.sup, got, tc.want)
		}
	}
}

func TestSupervise_OOMKillWithoutEvents(t *testing.T) {
	t.Parallel()
	// Docker 20.10 keeps State.OOMKilled set after the restart.
	state := runningAfterExit(ago(4*time.Second), ago(5*time.Second))
	state.OOMKilled = true
	info := inspection(state, 1, unlessStopped, "")
	sup := supervise(info, policyOf(info), runHistory{}, now)
	if !sup.EarlierOOMKill {
		t.Errorf("supervision = %+v, want the OOM kill from State.OOMKilled", sup)
	}
	if got := sup.crashReason(64 << 20); !strings.Contains(got, "OOMKilled") {
		t.Errorf("reason = %q, want OOMKilled", got)
	}
	first := inspection(runningSince(ago(time.Hour)), 0, unlessStopped, "")
	first.State.OOMKilled = true
	if sup := supervise(first, policyOf(first), runHistory{}, now); sup.EarlierOOMKill {
		t.Error("a container that never restarted reports an earlier OOM kill")
	}
}

// TestSupervise_DrainingWhileStopping reads the kill events of a running
// instance: the engine's stop signal, or the SIGKILL at the end of the
// grace period, means the instance is stopping and ps shows draining. Any
// other signal, such as a SIGHUP to reload, leaves it ready.
func TestSupervise_DrainingWhileStopping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, stopSignal, signal, want string
	}{
		{"default stop signal", "", "15", StateDraining},
		{"SIGKILL after the grace period", "", "9", StateDraining},
		{"stop_signal SIGINT", "SIGINT", "2", StateDraining},
		{"stop_signal as a number", "3", "3", StateDraining},
		{"stop_signal without SIG", "usr1", "10", StateDraining},
		{"reload with SIGHUP", "", "1", StateReady},
		{"SIGTERM with stop_signal SIGINT", "SIGINT", "15", StateReady},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h runHistory
			h.add(event(events.ActionStart, ago(time.Minute), ""))
			kill := event(events.ActionKill, ago(time.Second), "")
			kill.Actor.Attributes["signal"] = tc.signal
			h.add(kill)
			info := inspection(runningSince(ago(time.Minute)), 0, unlessStopped, "")
			info.Config.StopSignal = tc.stopSignal
			if got := supervise(info, policyOf(info), h, now).State; got != tc.want {
				t.Errorf("state = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSupervise_KillOfEarlierRunIgnored checks that a stop of an earlier
// run, which a later start through the API ended, does not make the
// current run draining.
func TestSupervise_KillOfEarlierRunIgnored(t *testing.T) {
	t.Parallel()
	var h runHistory
	h.add(event(events.ActionStart, ago(time.Minute), ""))
	kill := event(events.ActionKill, ago(50*time.Second), "")
	kill.Actor.Attributes["signal"] = "15"
	h.add(kill)
	h.add(event(events.ActionDie, ago(49*time.Second), "0"))
	h.add(event(events.ActionStart, ago(40*time.Second), ""))
	info := inspection(runningAfterExit(ago(40*time.Second), ago(49*time.Second)), 0, unlessStopped, "")
	if got := supervise(info, policyOf(info), h, now).State; got != StateReady {
		t.Errorf("state = %q, want ready", got)
	}
}
