package orchestrator

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/clusterctl/clusterctl/compose"
)

// InstanceError reports an instance that crashed or missed its readiness
// deadline, with the engine's record of why.
type InstanceError struct {
	Service string
	Slot    int
	Name    string
	// Reason is a short sentence: "exited with code 3", "not ready after 30s".
	Reason string
	// Health is the output of the last failed healthcheck or probe, if any.
	Health string
	// Logs are the instance's last output lines.
	Logs []string
}

func (e *InstanceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "instance %s.%d (%s) %s", e.Service, e.Slot, e.Name, e.Reason)
	if e.Health != "" {
		fmt.Fprintf(&b, "\nlast health output: %s", strings.TrimSpace(e.Health))
	}
	fmt.Fprintf(&b, "\nlast log lines:\n%s", indent(e.Logs))
	return b.String()
}

func (e *InstanceError) Unwrap() error { return ErrNotReady }

// gate is how an instance proves that it is ready.
type gate struct {
	// kind is "healthcheck", "probe" or "uptime".
	kind     string
	deadline time.Duration
	// minUptime is how long an uptime-gated instance must run; an exit
	// sooner than that is a crash for every gate.
	minUptime time.Duration
}

// readinessGate picks the gate of an instance: its healthcheck (from the
// file or the image), else the ready probe, else a minimum uptime. The
// deadline is the healthcheck's own budget, the probe's timeout, or the
// default; waitTimeout, when set, overrides it.
func readinessGate(svc *compose.Service, hc *container.HealthConfig, waitTimeout time.Duration) gate {
	g := gate{kind: "uptime", deadline: DefaultReadyTimeout, minUptime: svc.MinUptime}
	switch {
	case hasHealthcheck(hc):
		g.kind = "healthcheck"
		g.deadline = healthBudget(hc)
	case svc.Ready != nil:
		g.kind = "probe"
		if svc.Ready.Timeout > 0 {
			g.deadline = svc.Ready.Timeout
		}
	}
	if g.kind == "uptime" && g.minUptime == 0 {
		g.minUptime = DefaultMinUptime
	}
	if waitTimeout > 0 {
		g.deadline = waitTimeout
	}
	return g
}

// hasHealthcheck reports whether hc runs a check: it is set, and its test
// is not NONE, which turns off a healthcheck of the image.
func hasHealthcheck(hc *container.HealthConfig) bool {
	return hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE"
}

// healthBudget is the time the engine needs, at most, to call a container
// healthy: the start period plus every retry at its interval and timeout,
// with a margin. Unset timings take the engine's defaults.
func healthBudget(hc *container.HealthConfig) time.Duration {
	interval := cmpOr(hc.Interval, 30*time.Second)
	timeout := cmpOr(hc.Timeout, 30*time.Second)
	retries := hc.Retries
	if retries == 0 {
		retries = 3
	}
	return hc.StartPeriod + time.Duration(retries)*(interval+timeout) + readyMargin
}

func cmpOr(d, fallback time.Duration) time.Duration {
	if d == 0 {
		return fallback
	}
	return d
}

// waitReady polls an instance until its gate passes, it crashes, or the
// deadline passes. A ready probe runs in a short-lived container on the
// instance's network, because clusterctl reaches containers from the host
// only through published ports.
func (o *Orchestrator) waitReady(ctx context.Context, p *compose.Project, svc *compose.Service, inst created) error {
	info, err := o.Engine.ContainerInspect(ctx, inst.ID)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", inst.Name, err)
	}
	g := readinessGate(svc, info.Config.Healthcheck, inst.WaitTimeout)
	o.Report.emit(Event{Kind: EventWaiting, Project: p.Name, Service: svc.Name, Slot: inst.Slot,
		Container: inst.Name, Message: fmt.Sprintf("%s, deadline %s", g.kind, g.deadline)})
	start := time.Now()
	var probe *probeRun
	defer func() {
		if probe != nil {
			o.stopProbe(context.WithoutCancel(ctx), probe)
		}
	}()
	for {
		info, err := o.Engine.ContainerInspect(ctx, inst.ID)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", inst.Name, err)
		}
		if c := o.detectCrash(ctx, info, inst.Restarts); c != nil {
			return o.crashError(ctx, svc, inst, c)
		}
		ready, health, err := o.checkGate(ctx, p, svc, inst, g, info, &probe)
		if err != nil {
			return err
		}
		if ready {
			o.Report.emit(Event{Kind: EventReady, Project: p.Name, Service: svc.Name, Slot: inst.Slot,
				Container: inst.Name, Message: fmt.Sprintf("%s passed after %s", g.kind, time.Since(start).Round(100*time.Millisecond))})
			return nil
		}
		if time.Since(start) > g.deadline {
			return o.instanceError(ctx, svc, inst, fmt.Sprintf("not ready after %s (%s)", g.deadline, g.kind), health)
		}
		if err := sleep(ctx, nextPoll(g, info)); err != nil {
			return err
		}
	}
}

// uptimePollLimit bounds the wait between two checks of an uptime-gated
// instance, so that a crash shows within a second.
const uptimePollLimit = time.Second

// nextPoll returns how long to wait before the next check. An uptime gate
// waits until the minimum uptime is reached, at most uptimePollLimit, so
// the instance counts as ready as soon as it has run long enough. It also
// keeps an up of many instances from inspecting each one five times a
// second while the engine is busy creating the others. A crash in between
// shows at the next check, because the engine's restart count and state
// keep it. Other gates poll every pollInterval.
func nextPoll(g gate, info container.InspectResponse) time.Duration {
	if g.kind != "uptime" || info.State == nil {
		return pollInterval
	}
	started, err := time.Parse(time.RFC3339Nano, info.State.StartedAt)
	if err != nil || started.IsZero() {
		return pollInterval
	}
	if remaining := g.minUptime - time.Since(started); remaining > 0 {
		return min(remaining+time.Millisecond, uptimePollLimit)
	}
	return pollInterval
}

// crashed reports whether a container stopped running, or restarted more
// often than the restarts it had when the wait began. State.OOMKilled alone
// is no crash: Docker 20.10 keeps it set after the container runs again.
func crashed(info container.InspectResponse, restarts int) bool {
	state := info.State
	return state.Restarting || info.RestartCount > restarts ||
		state.Status == container.StateExited || state.Status == container.StateDead
}

// crash is the cause of an instance's crash.
type crash struct {
	Reason string
	// Exited is when the run that crashed ended, zero when unknown. The
	// output up to then is what the crash left: an instance that the
	// engine restarted prints more after it.
	Exited time.Time
}

// detectCrash returns why a container crashed since it had restarts
// restarts, or nil while it runs without having crashed. The reason gives
// the exit code, how long the run lasted against min_uptime, whether it
// was OOM-killed and what the engine does next. The engine's events tell
// the exit code and the OOM kill of a run that it restarted already.
func (o *Orchestrator) detectCrash(ctx context.Context, info container.InspectResponse, restarts int) *crash {
	if !crashed(info, restarts) {
		return nil
	}
	history := o.readRunHistory(ctx, info)
	// The events were read after this inspection; inspect again so that
	// the inspection is at least as new as the events.
	if again, err := o.Engine.ContainerInspect(ctx, info.ID); err == nil {
		info = again
	}
	return crashOf(supervise(info, policyOf(info), history, time.Now()), info)
}

func crashOf(sup supervision, info container.InspectResponse) *crash {
	var memory int64
	if info.HostConfig != nil {
		memory = info.HostConfig.Memory
	}
	c := &crash{Reason: sup.crashReason(memory)}
	if sup.LastExit != nil {
		c.Exited = sup.LastExit.Exited
	}
	return c
}

// checkGate reports whether the gate passed and, when it has not, the last
// health output.
func (o *Orchestrator) checkGate(ctx context.Context, p *compose.Project, svc *compose.Service, inst created,
	g gate, info container.InspectResponse, probe **probeRun) (bool, string, error) {
	started, _ := time.Parse(time.RFC3339Nano, info.State.StartedAt)
	switch g.kind {
	case "healthcheck":
		health := info.State.Health
		if health == nil {
			return false, "", nil
		}
		return health.Status == container.Healthy, lastHealthOutput(health), nil
	case "probe":
		if *probe == nil {
			run, err := o.startProbe(ctx, p, svc, inst, info, probeTimeout(g.deadline))
			if err != nil {
				return false, "", err
			}
			*probe = run
		}
		return o.probeDone(ctx, *probe)
	default:
		return !started.IsZero() && time.Since(started) >= g.minUptime, "", nil
	}
}

func lastHealthOutput(h *container.Health) string {
	for i := len(h.Log) - 1; i >= 0; i-- {
		if h.Log[i].ExitCode != 0 {
			return fmt.Sprintf("exit code %d: %s", h.Log[i].ExitCode, h.Log[i].Output)
		}
	}
	return ""
}

func (o *Orchestrator) instanceError(ctx context.Context, svc *compose.Service, inst created, reason, health string) error {
	return &InstanceError{
		Service: svc.Name, Slot: inst.Slot, Name: inst.Name, Reason: reason, Health: health,
		Logs: o.lastLogs(context.WithoutCancel(ctx), inst.ID, logTail),
	}
}

// crashError reports a crash with the instance's last output lines up to
// the exit, so that the lines of a restarted run do not hide why the
// crashed run ended.
func (o *Orchestrator) crashError(ctx context.Context, svc *compose.Service, inst created, c *crash) error {
	return &InstanceError{
		Service: svc.Name, Slot: inst.Slot, Name: inst.Name, Reason: c.Reason,
		Logs: o.lastLogsUntil(context.WithoutCancel(ctx), inst.ID, logTail, c.Exited),
	}
}

// probeRun is a running ready probe container.
type probeRun struct {
	ID   string
	Name string
}

// probeTimeout returns how long the probe container tries, a little less
// than the wait's deadline. The probe prints its last failure when it
// gives up, so that output is there when the wait's deadline passes,
// although the probe container started after the wait.
func probeTimeout(deadline time.Duration) time.Duration {
	return deadline - min(max(deadline/4, 500*time.Millisecond), 3*time.Second, deadline/2)
}

// startProbe runs `clusterctl probe` in a container of the tool image on the
// instance's first network, aimed at the instance's address there.
func (o *Orchestrator) startProbe(ctx context.Context, p *compose.Project, svc *compose.Service, inst created,
	info container.InspectResponse, deadline time.Duration) (*probeRun, error) {
	image, err := o.toolImage(ctx)
	if err != nil {
		return nil, err
	}
	net, addr := instanceAddress(info)
	if addr == "" {
		return nil, fmt.Errorf("instance %s has no address on a network, so the ready probe cannot reach it", inst.Name)
	}
	cmd := []string{"probe", "--timeout", deadline.String(), "--port", strconv.Itoa(svc.Ready.Port)}
	if svc.Ready.HTTPPath != "" {
		cmd = append(cmd, "--http", svc.Ready.HTTPPath)
	}
	cmd = append(cmd, addr)
	name := inst.Name + "-probe"
	cfg := &container.Config{Image: image, Cmd: cmd, User: toolUser, Labels: map[string]string{
		LabelProject: p.Name, LabelService: svc.Name, LabelRole: RoleProbe, LabelInstance: strconv.Itoa(inst.Slot),
	}}
	host := &container.HostConfig{ReadonlyRootfs: true, CapDrop: []string{"ALL"}}
	id, err := o.createContainer(ctx, name, cfg, host, net, nil, nil, "")
	if err != nil {
		return nil, fmt.Errorf("ready probe: %w", err)
	}
	run := &probeRun{ID: id, Name: name}
	if err := o.Engine.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		o.stopProbe(context.WithoutCancel(ctx), run)
		return nil, fmt.Errorf("ready probe: start %s: %w", name, err)
	}
	return run, nil
}

// probeDone reports whether the probe container exited 0; a probe that
// exited otherwise reports its output as the health output.
func (o *Orchestrator) probeDone(ctx context.Context, run *probeRun) (bool, string, error) {
	info, err := o.Engine.ContainerInspect(ctx, run.ID)
	if err != nil {
		return false, "", fmt.Errorf("inspect probe %s: %w", run.Name, err)
	}
	if info.State.Running {
		return false, "", nil
	}
	output := strings.Join(o.lastLogs(ctx, run.ID, 3), "; ")
	if info.State.ExitCode == 0 {
		return true, "", nil
	}
	return false, output, nil
}

func (o *Orchestrator) stopProbe(ctx context.Context, run *probeRun) {
	if err := o.Engine.ContainerRemove(ctx, run.ID, container.RemoveOptions{Force: true}); err != nil {
		o.logger().Warn("remove probe", "container", run.Name, "err", err)
	}
}

// instanceAddress returns the first network of a container, by name, and
// its IP address there.
func instanceAddress(info container.InspectResponse) (string, string) {
	if info.NetworkSettings == nil {
		return "", ""
	}
	var best, addr string
	for name, endpoint := range info.NetworkSettings.Networks {
		if endpoint == nil || endpoint.IPAddress == "" {
			continue
		}
		if best == "" || name < best {
			best, addr = name, endpoint.IPAddress
		}
	}
	return best, addr
}
