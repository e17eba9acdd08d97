package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

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
	case hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE":
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
		if reason := o.crashReason(ctx, info); reason != "" {
			return o.instanceError(ctx, svc, inst, reason, "")
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
		if err := sleep(ctx, pollInterval); err != nil {
			return err
		}
	}
}

// crashed reports whether a container stopped running or restarted.
func crashed(info container.InspectResponse) bool {
	state := info.State
	return state.OOMKilled || state.Restarting || info.RestartCount > 0 ||
		state.Status == "exited" || state.Status == "dead"
}

// crashReason returns why a container is not running, or "" while it runs
// without having restarted.
func (o *Orchestrator) crashReason(ctx context.Context, info container.InspectResponse) string {
	state := info.State
	switch {
	case state.OOMKilled:
		return fmt.Sprintf("was killed for exceeding its memory limit (OOMKilled, exit code %d)", state.ExitCode)
	case state.Restarting:
		return fmt.Sprintf("exited with code %d and is restarting (restart %d)", state.ExitCode, info.RestartCount)
	case info.RestartCount > 0:
		// The engine resets the exit code when the container runs again, so
		// the code comes from the engine's record of the exit.
		if code, ok := o.lastExitCode(ctx, info.ID); ok {
			return fmt.Sprintf("exited with code %d and was restarted (restart %d)", code, info.RestartCount)
		}
		return fmt.Sprintf("exited and was restarted (restart %d)", info.RestartCount)
	case state.Status == "exited" || state.Status == "dead":
		return fmt.Sprintf("exited with code %d", state.ExitCode)
	}
	return ""
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
			run, err := o.startProbe(ctx, p, svc, inst, info, g.deadline)
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

// lastExitCode reads the exit code of a container's last exit from the
// engine's die events, which keep it after a restart.
func (o *Orchestrator) lastExitCode(ctx context.Context, id string) (int, bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	messages, errs := o.Engine.Events(ctx, events.ListOptions{
		Since: "0", Until: strconv.FormatInt(time.Now().Unix()+1, 10),
		Filters: filters.NewArgs(filters.Arg("container", id), filters.Arg("event", string(events.ActionDie))),
	})
	code, found := 0, false
	for {
		select {
		case msg := <-messages:
			if n, err := strconv.Atoi(msg.Actor.Attributes["exitCode"]); err == nil {
				code, found = n, true
			}
		case err := <-errs:
			// The stream ends with io.EOF at the end time, or with the error
			// that cut it short; either way the codes read so far stand.
			if err != nil && !errors.Is(err, io.EOF) {
				o.logger().Debug("read die events", "container", shortID(id), "err", err)
			}
			return code, found
		}
	}
}

// probeRun is a running ready probe container.
type probeRun struct {
	ID   string
	Name string
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
