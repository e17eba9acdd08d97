package orchestrator

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"golang.org/x/sys/unix"
)

// The engine restarts crashed containers itself, and clusterctl only reads
// how that went. The engine's restart manager (moby's restartmanager
// package in Docker 28) waits 100 ms before a restart and doubles the wait
// with every exit, up to one minute. After a run of 10 s or more it starts
// again at 100 ms. Its restart count keeps growing across long runs, so
// on-failure:N gives up after N restarts however long each run lasted, as
// Docker 20.10.24 does too. Only a start through the API resets the count
// and the delay.
const (
	engineBackoffStart = 100 * time.Millisecond
	engineBackoffMax   = time.Minute
	engineBackoffReset = 10 * time.Second
)

// containerRun is one run of a container, from a start to its exit.
type containerRun struct {
	// Started is zero when the engine's events no longer cover the start.
	Started time.Time
	// Exited is zero while the run goes on.
	Exited    time.Time
	ExitCode  int
	OOMKilled bool
	// Signals are the numbers of the signals that the engine's kill
	// events sent to the container during the run, as the events write
	// them ("15"). A stop sends the stop signal, then SIGKILL at the end of
	// the grace period.
	Signals []string
}

// duration returns how long a finished run lasted, and false when its
// start or exit is unknown.
func (r containerRun) duration() (time.Duration, bool) {
	if r.Started.IsZero() || r.Exited.IsZero() {
		return 0, false
	}
	return r.Exited.Sub(r.Started), true
}

// runHistory is the runs of one container, oldest first, as the engine's
// start, die and oom events record them.
type runHistory struct {
	Runs []containerRun
	// Complete is true when the events reach back to the container's
	// creation. The engine keeps only its last 256 events in memory, so on
	// a busy engine the oldest runs drop out.
	Complete bool
}

// supervisionPolicy is the minimum uptime and restart policy that tell a
// crash loop from a restart.
type supervisionPolicy struct {
	// MinUptime is x-clusterctl.min_uptime, or DefaultMinUptime when the
	// file does not set it: an exit sooner than this is unstable.
	MinUptime time.Duration
	Restart   container.RestartPolicy
}

// policyOf reads an instance's policy from its labels and host config, so
// that ps needs no compose file.
func policyOf(info container.InspectResponse) supervisionPolicy {
	policy := supervisionPolicy{MinUptime: DefaultMinUptime}
	if info.Config != nil {
		if d, err := time.ParseDuration(info.Config.Labels[LabelMinUptime]); err == nil && d > 0 {
			policy.MinUptime = d
		}
	}
	if info.HostConfig != nil {
		policy.Restart = info.HostConfig.RestartPolicy
	}
	return policy
}

// supervision is clusterctl's reading of how the engine supervises one
// instance.
type supervision struct {
	State    string
	Restarts int
	// LastExit is the latest finished run, nil when the container never
	// exited or the engine's events no longer cover its last exit.
	LastExit *containerRun
	// UnstableExits counts the latest exits in a row that came sooner than
	// the policy's minimum uptime.
	UnstableExits int
	// NextRestart is when the engine restarts a container that it waits on,
	// else zero. It is an estimate from the engine's backoff rule.
	NextRestart time.Time
	// GaveUp is true when an on-failure:N policy used up its N restarts.
	GaveUp bool
	// EarlierOOMKill is true when the engine's State.OOMKilled reports an
	// OOM kill of a run that the events no longer cover.
	EarlierOOMKill bool
	Policy         supervisionPolicy
}

// supervise computes the ps state of an instance from its inspection, its
// policy and its run history at time now. It is a pure function.
//
// An instance is crashloop when its latest exit came sooner than the
// policy's minimum uptime and the engine restarts it, or restarted it and
// the new run has not reached the minimum uptime yet. It is crashloop too
// when the engine gave up restarting it under on-failure:N. An exit after a
// longer run that the engine restarts reads as starting. A container that
// exited and is not restarted, a clean exit under on-failure among them,
// is exited.
func supervise(info container.InspectResponse, policy supervisionPolicy, history runHistory, now time.Time) supervision {
	state := info.State
	if state == nil {
		state = &container.State{}
	}
	sup := supervision{Restarts: info.RestartCount, Policy: policy}
	finished := finishedRuns(mergeInspectedRun(history.Runs, state))

	// Only the exits since the engine's restart manager began count: a
	// start through the API, as a rollback does, starts a new count.
	exits := info.RestartCount
	if !state.Running {
		exits++
	}
	if len(finished) > exits {
		finished = finished[len(finished)-exits:]
	}

	if len(finished) > 0 {
		last := finished[len(finished)-1]
		sup.LastExit = &last
	}

	// Docker 20.10 keeps State.OOMKilled set after the engine restarts the
	// container, and Docker 28 clears it. While it is set and the events no
	// longer cover the latest exit, an OOM kill is the best account of it.
	// NOTE: on Docker 20.10 the flag may stem from an earlier run than the
	// latest exit.
	sup.EarlierOOMKill = sup.LastExit == nil && state.Running && info.RestartCount > 0 && state.OOMKilled
	sup.UnstableExits = unstableExits(finished, policy.MinUptime)

	switch {
	case state.Restarting:
		sup.State = StateStarting
		if sup.UnstableExits > 0 {
			sup.State = StateCrashloop
		}
		if finishedAt := parseTime(state.FinishedAt); !finishedAt.IsZero() {
			sup.NextRestart = finishedAt.Add(restartDelay(finished, info.RestartCount))
		}
	case !state.Running:
		sup.GaveUp = gaveUp(policy.Restart, info.RestartCount, state.ExitCode)
		sup.State = StateExited
		if sup.GaveUp {
			sup.State = StateCrashloop
		}
	// An instance that its front door drains before the stop signal reads
	// as ready here, and PS marks it draining from the front door's status.
	case stopping(info, history.Runs):
		sup.State = StateDraining
	default:
		sup.State = runningState(info, sup, now)
	}
	return sup
}

// stopping reports whether the engine stops the running container: its
// current run got the container's stop signal or SIGKILL. A stop of an
// earlier run, or another signal such as a SIGHUP to reload, does not
// count.
func stopping(info container.InspectResponse, runs []containerRun) bool {
	if len(runs) == 0 {
		return false
	}
	last := runs[len(runs)-1]
	started := parseTime(info.State.StartedAt)
	if !last.Exited.IsZero() || last.Started.IsZero() || last.Started.Before(started) {
		return false
	}
	stopSignal := "SIGTERM"
	if info.Config != nil && info.Config.StopSignal != "" {
		stopSignal = info.Config.StopSignal
	}
	want, known := signalNumber(stopSignal)
	for _, sig := range last.Signals {
		if sig == "9" || !known || sig == strconv.Itoa(want) {
			return true
		}
	}
	return false
}

// signalNumber returns the number of a stop_signal value as the engine
// takes it: a number, or a name with or without the SIG prefix. It
// returns false for a name it does not know.
func signalNumber(value string) (int, bool) {
	if n, err := strconv.Atoi(value); err == nil {
		return n, true
	}
	name := strings.ToUpper(value)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	n := unix.SignalNum(name)
	return int(n), n != 0
}

// runningState is the state of a running container. A run after a restart
// stays crashloop until it reaches the minimum uptime when the exit before
// it was unstable, or when the events no longer tell how long the run
// before lasted.
func runningState(info container.InspectResponse, sup supervision, now time.Time) string {
	uptime := now.Sub(parseTime(info.State.StartedAt))
	young := uptime < sup.Policy.MinUptime
	if young && info.RestartCount > 0 && (sup.UnstableExits > 0 || sup.lastRunUnknown()) {
		return StateCrashloop
	}
	if health := info.State.Health; health != nil {
		switch health.Status {
		case container.Healthy:
			return StateReady
		case container.Unhealthy:
			return StateUnhealthy
		}
		return StateStarting
	}
	if young {
		return StateStarting
	}
	return StateReady
}

// lastRunUnknown reports whether the events no longer tell how long the
// run before the latest exit lasted.
func (s supervision) lastRunUnknown() bool {
	if s.LastExit == nil {
		return s.Restarts > 0
	}
	_, ok := s.LastExit.duration()
	return !ok
}

// mergeInspectedRun adds the run that the inspection shows to runs when
// the events, read before the inspection, do not have it yet. The engine
// logs a start event after it sets StartedAt and a die event after it sets
// FinishedAt, so an event at or after that time belongs to the same run.
func mergeInspectedRun(runs []containerRun, state *container.State) []containerRun {
	started, finished := parseTime(state.StartedAt), parseTime(state.FinishedAt)
	if started.IsZero() {
		return runs
	}
	runs = append([]containerRun(nil), runs...)
	var last *containerRun
	if len(runs) > 0 {
		last = &runs[len(runs)-1]
	}
	if state.Running && !state.Restarting {
		if last == nil || !last.Exited.IsZero() || last.Started.Before(started) {
			runs = append(runs, containerRun{Started: started})
		}
		return runs
	}
	switch {
	case last != nil && !last.Exited.IsZero() && !last.Exited.Before(finished):
		// The inspection's times are the engine's own, a little earlier
		// than the events that report them.
		last.Started, last.Exited = started, finished
	case last != nil && last.Exited.IsZero() && !last.Started.Before(started):
		last.Started, last.Exited, last.ExitCode = started, finished, state.ExitCode
		last.OOMKilled = last.OOMKilled || state.OOMKilled
	default:
		runs = append(runs, containerRun{Started: started, Exited: finished, ExitCode: state.ExitCode, OOMKilled: state.OOMKilled})
	}
	return runs
}

func finishedRuns(runs []containerRun) []containerRun {
	var out []containerRun
	for _, r := range runs {
		if !r.Exited.IsZero() {
			out = append(out, r)
		}
	}
	return out
}

// unstableExits counts the latest runs in a row that lasted less than
// minUptime. A run of unknown length ends the count.
func unstableExits(finished []containerRun, minUptime time.Duration) int {
	n := 0
	for i := len(finished) - 1; i >= 0; i-- {
		d, ok := finished[i].duration()
		if !ok || d >= minUptime {
			break
		}
		n++
	}
	return n
}

// restartDelay replays the engine's backoff over the exits since its
// restart manager began. restarts is the engine's restart count, which
// already includes the restart it waits for. Exits that the events no
// longer cover are taken as short runs, which the delay of a crash loop
// was made of.
func restartDelay(finished []containerRun, restarts int) time.Duration {
	var delay time.Duration
	for range max(restarts-len(finished), 0) {
		delay = nextDelay(delay, 0)
	}
	for _, r := range finished {
		d, _ := r.duration()
		delay = nextDelay(delay, d)
	}
	return max(delay, engineBackoffStart)
}

func nextDelay(delay, run time.Duration) time.Duration {
	if run >= engineBackoffReset || delay == 0 {
		return engineBackoffStart
	}
	return min(delay*2, engineBackoffMax)
}

// gaveUp reports whether the engine stopped restarting a container because
// on-failure:N used up its N restarts. A clean exit is not restarted under
// on-failure either, and is no crash.
func gaveUp(policy container.RestartPolicy, restarts, exitCode int) bool {
	return policy.Name == container.RestartPolicyOnFailure && policy.MaximumRetryCount > 0 &&
		restarts >= policy.MaximumRetryCount && exitCode != 0
}

// parseTime reads an engine timestamp; the engine writes the zero time as
// 0001-01-01T00:00:00Z for a container that never started or exited.
func parseTime(value string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// backoff describes what the engine does next, for ps: "restarting in
// 800ms", "gave up after 5 restarts", or "" when it does nothing.
func (s supervision) backoff(now time.Time) string {
	switch {
	case s.GaveUp:
		return "gave up after " + count(s.Restarts, "restart")
	case !s.NextRestart.IsZero():
		wait := s.NextRestart.Sub(now)
		if wait <= 0 {
			return "restarting now"
		}
		return "restarting in " + roundDuration(wait).String()
	case s.State == StateCrashloop && s.UnstableExits == 1:
		return "1 unstable exit"
	case s.State == StateCrashloop && s.UnstableExits > 1:
		return fmt.Sprintf("%d unstable exits in a row", s.UnstableExits)
	}
	return ""
}

// crashReason describes why an instance is not running as it should, for
// the errors of up and rollouts: the exit, how long the run lasted against
// min_uptime, and what the engine does about it.
func (s supervision) crashReason(memoryLimit int64) string {
	var b strings.Builder
	if s.State == StateCrashloop {
		b.WriteString("is crash-looping: ")
	}
	switch {
	case s.LastExit == nil && s.EarlierOOMKill:
		b.WriteString("was killed for exceeding its memory limit (OOMKilled)")
	case s.LastExit == nil:
		b.WriteString("exited")
	case s.LastExit.OOMKilled && memoryLimit > 0:
		fmt.Fprintf(&b, "was killed for exceeding its memory limit of %s (OOMKilled, exit code %d)",
			formatBytes(memoryLimit), s.LastExit.ExitCode)
	case s.LastExit.OOMKilled:
		fmt.Fprintf(&b, "was killed for lack of memory (OOMKilled, exit code %d)", s.LastExit.ExitCode)
	default:
		fmt.Fprintf(&b, "exited with code %d", s.LastExit.ExitCode)
	}
	if s.LastExit != nil {
		if d, ok := s.LastExit.duration(); ok {
			fmt.Fprintf(&b, " after %s", roundDuration(d))
			if d < s.Policy.MinUptime {
				fmt.Fprintf(&b, ", sooner than min_uptime %s", s.Policy.MinUptime)
			}
		}
	}
	switch {
	case s.GaveUp:
		fmt.Fprintf(&b, "; the engine gave up after %d restarts (restart policy on-failure:%d)", s.Restarts, s.Policy.Restart.MaximumRetryCount)
	case !s.NextRestart.IsZero():
		fmt.Fprintf(&b, "; the engine restarts it (restart %d)", s.Restarts)
	case s.Restarts > 0:
		fmt.Fprintf(&b, "; the engine restarted it (restart %d)", s.Restarts)
	}
	return b.String()
}

// roundDuration keeps two significant places: 230ms, 4.1s, 2m3s.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(10 * time.Millisecond)
	case d < time.Minute:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

func formatBytes(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
