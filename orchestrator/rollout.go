package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracer records clusterctl's own spans; without a configured provider it
// records nothing.
var tracer = otel.Tracer("github.com/clusterctl/clusterctl/orchestrator")

// replacement is one slot of a rollout: the instance that served it and
// the one that replaces it.
type replacement struct {
	Slot int
	Old  *ObservedContainer
	New  created
	// Renamed is set when the old instance was renamed to free its
	// container_name for the new one. A rollback gives the name back.
	Renamed bool
}

// rollout replaces the instances of change with the service's template,
// batch by batch, and records the revision when every slot runs it.
//
// Start-first, the default, keeps every slot served: a new instance joins
// the front door only once it is ready, and the old one leaves the
// rotation, drains, and stops only after that. Old instances stay stopped,
// not removed, until the whole service succeeded, so that a rollback can
// start them again instead of recreating them.
func (r *upRun) rollout(ctx context.Context, svc *service, change Change, observed []ObservedContainer) error {
	update, rollbackCfg := updateConfigs(svc.Config, svc.Count)
	if setting := exclusiveSetting(svc.Template); setting != "" && update.Order != OrderStopFirst {
		update.Order = OrderStopFirst
		r.o.Report.emit(Event{Kind: EventWarning, Project: r.p.Name, Service: svc.Name, Slot: -1,
			Message: "rolls out stop-first, because an old and a new instance cannot both hold " + setting +
				": each slot goes unserved while its new instance starts"})
	} else if update.Order == OrderStopFirst && svc.FrontDoor != nil {
		r.o.Report.emit(Event{Kind: EventWarning, Project: r.p.Name, Service: svc.Name, Slot: -1,
			Message: "update_config.order is stop-first: each slot goes unserved while its new instance starts"})
	}
	r.o.Report.emit(Event{Kind: EventInfo, Project: r.p.Name, Service: svc.Name, Slot: -1,
		Message: "rolling out: " + r.o.describeChange(ctx, svc.Template, change, observed)})
	olds := map[int]*ObservedContainer{}
	for i, c := range observed {
		if c.Service == svc.Name && c.Role == RoleInstance && change.Containers[c.Slot] == c.ID {
			olds[c.Slot] = &observed[i]
		}
	}
	var done []replacement
	failures := 0
	batches := Batches(keys(change.Containers), update.Parallelism)
	for i, batch := range batches {
		if i > 0 && update.Delay > 0 {
			if err := sleep(ctx, update.Delay); err != nil {
				return err
			}
		}
		r.o.Report.emit(Event{Kind: EventBatch, Project: r.p.Name, Service: svc.Name, Slot: -1,
			Message: fmt.Sprintf("batch %d of %d: slots %s", i+1, len(batches), joinInts(batch))})
		ok, failed, err := r.replaceBatch(ctx, svc, svc.Template, batch, olds, update, i)
		done = append(done, ok...)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return err
		}
		failures += len(failed)
		if float64(failures)/float64(len(change.Containers)) <= update.MaxFailureRatio || update.FailureAction == FailureContinue {
			if err := r.restoreAll(ctx, svc, failed, rollbackCfg); err != nil {
				r.o.Report.emit(Event{Kind: EventWarning, Project: r.p.Name, Service: svc.Name, Slot: -1,
					Message: "restoring failed slots: " + firstLine(err)})
			}
			continue
		}
		return r.failRollout(ctx, svc, change, update, rollbackCfg, append(done, failed...), err)
	}
	if failures > 0 {
		r.o.Report.emit(Event{Kind: EventWarning, Project: r.p.Name, Service: svc.Name, Slot: -1, Message: fmt.Sprintf(
			"%s of %d failed and kept the old revision, which max_failure_ratio %g or failure_action %s allows",
			count(failures, "slot"), len(change.Containers), update.MaxFailureRatio, update.FailureAction)})
	}
	// Each old instance is removed once its own stop ended, so the removals
	// overlap the stop of the last batch, and so does recording the revision.
	// A revision that no slot took is not recorded, so that undo never
	// returns to it.
	var removals sync.WaitGroup
	removals.Go(func() { r.removeOld(ctx, done) })
	var err error
	if len(done) > 0 {
		err = r.o.recordRevision(ctx, r.p.Name, svc.Template)
	}
	removals.Wait()
	r.background.Wait()
	return err
}

func (r *upRun) failRollout(ctx context.Context, svc *service, change Change, update, rollbackCfg UpdateConfig,
	touched []replacement, cause error) error {
	if update.FailureAction == FailurePause {
		return fmt.Errorf("rollout of %s to revision %s paused after a failure; run clusterctl rollout %s to go on: %w",
			svc.Name, change.Revision, svc.Name, cause)
	}
	r.o.Report.emit(Event{Kind: EventWarning, Project: r.p.Name, Service: svc.Name, Slot: -1,
		Message: fmt.Sprintf("rolling back %s after a failure", count(len(touched), "slot"))})
	if err := r.restoreAll(ctx, svc, touched, rollbackCfg); err != nil {
		return fmt.Errorf("rollout of %s to revision %s failed, and so did the rollback: %w",
			svc.Name, change.Revision, errors.Join(cause, err))
	}
	return fmt.Errorf("rollout of %s to revision %s failed and was rolled back; the old instances serve every slot: %w",
		svc.Name, change.Revision, cause)
}

// replaceBatch replaces the batch's slots in parallel and then watches the
// new instances for the monitor period. It returns the replacements that
// held and those that failed, with the first failure.
func (r *upRun) replaceBatch(ctx context.Context, svc *service, tmpl *Template, batch []int,
	olds map[int]*ObservedContainer, update UpdateConfig, index int) (ok, failed []replacement, first error) {
	ctx, span := tracer.Start(ctx, "rollout batch", trace.WithAttributes(
		attribute.String("clusterctl.service", svc.Name), attribute.Int("clusterctl.batch", index),
		attribute.IntSlice("clusterctl.slots", batch)))
	defer span.End()
	results := make([]replacement, len(batch))
	errs := make([]error, len(batch))
	var wg sync.WaitGroup
	for i, slot := range batch {
		wg.Go(func() {
			results[i], errs[i] = r.replaceSlot(ctx, svc, tmpl, slot, olds[slot], update)
		})
	}
	wg.Wait()
	if update.Monitor > 0 && errors.Join(errs...) == nil {
		errs = r.monitor(ctx, svc, results, update.Monitor)
	}
	for i := range batch {
		if errs[i] != nil {
			failed = append(failed, results[i])
			first = cmpErr(first, errs[i])
			continue
		}
		ok = append(ok, results[i])
	}
	if first != nil {
		span.SetStatus(codes.Error, firstLine(first))
	}
	return ok, failed, first
}

func cmpErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

// replaceSlot starts the new instance of one slot and retires the old one,
// in the order that the update config sets.
func (r *upRun) replaceSlot(ctx context.Context, svc *service, tmpl *Template, slot int,
	old *ObservedContainer, update UpdateConfig) (replacement, error) {
	ctx, span := tracer.Start(ctx, "instance replace", trace.WithAttributes(
		attribute.String("clusterctl.service", svc.Name), attribute.Int("clusterctl.slot", slot)))
	defer span.End()
	rep := replacement{Slot: slot, Old: old}
	if update.Order == OrderStopFirst && old != nil {
		if err := r.retire(ctx, svc, old); err != nil {
			return rep, err
		}
		renamed, err := r.freeContainerName(ctx, tmpl, old)
		rep.Renamed = renamed
		if err != nil {
			return rep, err
		}
	}
	inst, err := r.startInstance(ctx, svc, tmpl, slot)
	rep.New = inst
	if err == nil {
		err = r.o.waitReady(ctx, r.p, svc.Service, inst)
	}
	swapOld := update.Order != OrderStopFirst && old != nil
	if err == nil {
		err = r.swapInRotation(ctx, svc, inst, old, swapOld)
	}
	if err != nil {
		span.SetStatus(codes.Error, firstLine(err))
		r.o.Report.emit(Event{Kind: EventFailed, Project: r.p.Name, Service: svc.Name, Slot: slot,
			Container: inst.Name, Message: firstLine(err)})
		return rep, err
	}
	// The slot is served by the new instance now; an interruption from
	// here on keeps it rather than removing it.
	r.untrack(inst.ID)
	if swapOld {
		r.stopInBackground(ctx, svc, old)
	}
	return rep, nil
}

// stopInBackground stops an old instance that left the rotation and
// drained, without holding up the next batch: the instance serves no
// request any more, so its stop_grace_period need not delay the rollout.
// The rollout waits for every such stop before it removes old instances
// or returns. A failed stop leaves the instance running outside the
// rotation, and its removal at the end of the rollout kills it.
func (r *upRun) stopInBackground(ctx context.Context, svc *service, old *ObservedContainer) {
	done := make(chan struct{})
	r.mu.Lock()
	r.stopping[old.ID] = done
	r.mu.Unlock()
	r.background.Go(func() {
		defer close(done)
		err := r.o.stopInstance(ctx, r.p.Name, svc.Name, old.Slot, old.ID, old.Name)
		if err != nil && ctx.Err() == nil {
			r.o.Report.emit(Event{Kind: EventWarning, Project: r.p.Name, Service: svc.Name, Slot: old.Slot,
				Container: old.Name, Message: "stopping the replaced instance failed, it is removed at the end: " + firstLine(err)})
		}
	})
}

// waitStopped waits until the background stop of an old instance, if one
// was started, has ended.
func (r *upRun) waitStopped(id string) {
	r.mu.Lock()
	done, ok := r.stopping[id]
	r.mu.Unlock()
	if ok {
		<-done
	}
}

// swapInRotation adds a ready new instance to its front door and, when
// swapOld is set, takes the old instance of the slot out in the same
// update: one push, after which the old instance's requests drain.
func (r *upRun) swapInRotation(ctx context.Context, svc *service, inst created, old *ObservedContainer, swapOld bool) error {
	rot, ok := r.doors[svc.Name]
	if !ok {
		if swapOld {
			r.markRetired(old.ID)
		}
		return nil
	}
	b, err := r.o.backendOf(ctx, inst.ID, inst.Slot)
	if err != nil {
		return err
	}
	rot.add(b)
	if swapOld {
		if entry, ok := rot.take(old.ID); ok {
			r.mu.Lock()
			r.leaving[old.ID] = leavingBackend{service: svc.Name, backend: entry}
			r.mu.Unlock()
			r.o.Report.emit(Event{Kind: EventDraining, Project: r.p.Name, Service: svc.Name, Slot: old.Slot, Container: old.Name})
		}
	}
	if err := rot.sync(ctx); err != nil {
		return err
	}
	// Only once the new instance serves may an interruption remove the old.
	if swapOld {
		r.markRetired(old.ID)
	}
	return nil
}

// leavingBackend is an old instance that a swap took out of its front
// door's rotation. Until the swap completed and retired it, the cleanup of
// an interrupted run puts it back, because the new instance that replaced
// it goes.
type leavingBackend struct {
	service string
	backend Backend
}

func (r *upRun) markRetired(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retired = append(r.retired, id)
}

// startInstance creates and starts one instance of a template.
func (r *upRun) startInstance(ctx context.Context, svc *service, tmpl *Template, slot int) (created, error) {
	spec := tmpl.Instance(r.p.Name, slot, svc.Count, uuid.NewString())
	id, err := r.o.createInstanceContainer(ctx, r.p, spec, false)
	if err != nil {
		return created{Slot: slot}, err
	}
	r.track(id)
	inst := created{ID: id, Name: spec.Name, Slot: slot, WaitTimeout: r.opts.WaitTimeout}
	r.o.Report.emit(Event{Kind: EventCreated, Project: r.p.Name, Service: svc.Name, Slot: slot, Container: spec.Name,
		Message: "revision " + tmpl.Revision})
	if err := r.o.Engine.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return inst, startError(spec.Name, &tmpl.Host, err)
	}
	r.o.Report.emit(Event{Kind: EventStarted, Project: r.p.Name, Service: svc.Name, Slot: slot, Container: spec.Name})
	return inst, nil
}

// retire takes an old instance out of rotation, lets its requests drain,
// and stops it without removing it.
func (r *upRun) retire(ctx context.Context, svc *service, old *ObservedContainer) error {
	r.o.Report.emit(Event{Kind: EventDraining, Project: r.p.Name, Service: svc.Name, Slot: old.Slot, Container: old.Name})
	r.markRetired(old.ID)
	if err := r.leaveRotation(ctx, svc.Name, old.ID); err != nil {
		return err
	}
	return r.o.stopInstance(ctx, r.p.Name, svc.Name, old.Slot, old.ID, old.Name)
}

// freeContainerName renames a stopped old instance that holds the
// template's container_name, so that the new instance can take the name,
// as Docker Compose does when it recreates a container. The old instance
// becomes NAME-<12 hex digits of its ID> until it is removed or a rollback
// renames it back.
func (r *upRun) freeContainerName(ctx context.Context, tmpl *Template, old *ObservedContainer) (bool, error) {
	if tmpl.ContainerName == "" || old.Name != tmpl.ContainerName {
		return false, nil
	}
	if err := r.o.Engine.ContainerRename(ctx, old.ID, old.Name+"-"+shortID(old.ID)); err != nil {
		return false, fmt.Errorf("rename %s to free its container_name for the new instance: %w", old.Name, err)
	}
	return true, nil
}

// monitor watches new instances for the monitor period and returns, per
// replacement, the crash of its new instance, if any.
func (r *upRun) monitor(ctx context.Context, svc *service, reps []replacement, period time.Duration) []error {
	errs := make([]error, len(reps))
	deadline := time.Now().Add(period)
	for time.Now().Before(deadline) && errors.Join(errs...) == nil {
		for i, rep := range reps {
			if errs[i] != nil {
				continue
			}
			info, err := r.o.Engine.ContainerInspect(ctx, rep.New.ID)
			if err != nil {
				errs[i] = fmt.Errorf("inspect %s: %w", rep.New.Name, err)
				continue
			}
			if c := r.o.detectCrash(ctx, info, 0); c != nil {
				c.Reason += " during the monitor period of " + period.String()
				errs[i] = r.o.crashError(ctx, svc.Service, rep.New, c)
			}
		}
		if err := sleep(ctx, pollInterval); err != nil {
			for i := range errs {
				errs[i] = cmpErr(errs[i], err)
			}
			return errs
		}
	}
	return errs
}

// restoreAll puts the old instances of the given slots back, in batches of
// the rollback config, and removes their new instances.
func (r *upRun) restoreAll(ctx context.Context, svc *service, reps []replacement, cfg UpdateConfig) error {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for batch := range slices.Chunk(reps, max(cfg.Parallelism, 1)) {
		var wg sync.WaitGroup
		batchErrs := make([]error, len(batch))
		for i, rep := range batch {
			wg.Go(func() { batchErrs[i] = r.restore(ctx, svc, rep) })
		}
		wg.Wait()
		errs = append(errs, batchErrs...)
	}
	return errors.Join(errs...)
}

// restore starts a slot's old instance again, waits until it is ready and
// in rotation, and only then retires and removes the new instance. When
// the two cannot both hold a setting, such as a fixed host port or a
// container_name, the new instance goes first.
func (r *upRun) restore(ctx context.Context, svc *service, rep replacement) error {
	if rep.New.ID != "" && !r.o.running(ctx, rep.New.ID) {
		// A new instance that crashed fails every request sent to it, so it
		// leaves the rotation before anything waits.
		if err := r.leaveRotation(ctx, svc.Name, rep.New.ID); err != nil {
			return err
		}
	}
	if rep.Old != nil && (rep.Renamed || exclusiveSetting(svc.Template) != "") {
		if err := r.discardNew(ctx, svc, rep); err != nil {
			return err
		}
		rep.New.ID = ""
	}
	if rep.Renamed {
		if err := r.o.Engine.ContainerRename(ctx, rep.Old.ID, rep.Old.Name); err != nil {
			return fmt.Errorf("rename %s back: %w", rep.Old.Name, err)
		}
	}
	if rep.Old != nil {
		r.waitStopped(rep.Old.ID)
		r.mu.Lock()
		r.retired = slices.DeleteFunc(r.retired, func(id string) bool { return id == rep.Old.ID })
		r.mu.Unlock()
		old := created{ID: rep.Old.ID, Name: rep.Old.Name, Slot: rep.Slot, WaitTimeout: r.opts.WaitTimeout}
		if err := r.o.Engine.ContainerStart(ctx, old.ID, container.StartOptions{}); err != nil {
			return fmt.Errorf("restart %s: %w", old.Name, err)
		}
		if err := r.o.waitReady(ctx, r.p, svc.Service, old); err != nil {
			return err
		}
		if err := r.addToRotation(ctx, svc, old); err != nil {
			return err
		}
	}
	if rep.New.ID == "" {
		return nil
	}
	return r.discardNew(ctx, svc, rep)
}

// discardNew takes a slot's new instance out of rotation and removes it.
func (r *upRun) discardNew(ctx context.Context, svc *service, rep replacement) error {
	if rep.New.ID == "" {
		return nil
	}
	if err := r.leaveRotation(ctx, svc.Name, rep.New.ID); err != nil {
		return err
	}
	r.untrack(rep.New.ID)
	if err := r.o.removeContainerVolumes(ctx, rep.New.ID, true); err != nil {
		return err
	}
	r.o.Report.emit(Event{Kind: EventRemoved, Project: r.p.Name, Service: svc.Name, Slot: rep.Slot, Container: rep.New.Name,
		Message: "rolled back"})
	return nil
}

// leaveRotation takes an instance out of its front door's rotation and
// waits for its requests in flight to drain.
func (r *upRun) leaveRotation(ctx context.Context, service, id string) error {
	if rot, ok := r.doors[service]; ok && rot.remove(id) {
		return rot.sync(ctx)
	}
	return nil
}

// running reports whether a container runs and has not restarted.
func (o *Orchestrator) running(ctx context.Context, id string) bool {
	info, err := o.Engine.ContainerInspect(ctx, id)
	return err == nil && !crashed(info, 0)
}

// removeOld removes the old instances of a finished rollout, each once its
// background stop ended, in parallel. Their anonymous volumes go with them,
// because nothing else refers to those volumes: the new instances got
// their own, and left on the engine they would be unlabeled, so that not
// even down --volumes would find them. Docker Compose instead mounts a
// recreated container's anonymous volumes in its successor; with start-first
// replacement both would use them at once.
func (r *upRun) removeOld(ctx context.Context, reps []replacement) {
	var wg sync.WaitGroup
	for _, rep := range reps {
		if rep.Old == nil {
			continue
		}
		wg.Go(func() {
			r.waitStopped(rep.Old.ID)
			if err := r.o.removeContainerVolumes(ctx, rep.Old.ID, true); err != nil {
				r.o.logger().Warn("remove replaced instance", "container", rep.Old.Name, "err", err)
				return
			}
			r.o.Report.emit(Event{Kind: EventRemoved, Project: r.p.Name, Service: rep.Old.Service, Slot: rep.Slot, Container: rep.Old.Name,
				Message: "replaced"})
		})
	}
	wg.Wait()
}

// stopInstance stops a container with its own stop signal and grace period.
// Its stopped event reports when the engine had to kill it at the end of
// the period.
func (o *Orchestrator) stopInstance(ctx context.Context, project, service string, slot int, id, name string) error {
	o.Report.emit(Event{Kind: EventStopping, Project: project, Service: service, Slot: slot, Container: name})
	start := time.Now()
	if err := o.Engine.ContainerStop(ctx, id, container.StopOptions{}); err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	info, err := o.Engine.ContainerInspect(ctx, id)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", name, err)
	}
	grace := 10 * time.Second
	if info.Config.StopTimeout != nil {
		grace = time.Duration(*info.Config.StopTimeout) * time.Second
	}
	signal := info.Config.StopSignal
	if signal == "" {
		signal = "SIGTERM"
	}
	message := fmt.Sprintf("exited with code %d after %s", info.State.ExitCode, time.Since(start).Round(100*time.Millisecond))
	if info.State.ExitCode == 137 && !strings.EqualFold(signal, "SIGKILL") && time.Since(start) >= grace-time.Second {
		message = fmt.Sprintf("did not exit within %s of %s and was killed after stop_grace_period", grace, signal)
	}
	o.Report.emit(Event{Kind: EventStopped, Project: project, Service: service, Slot: slot, Container: name, Message: message})
	return nil
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// joinInts formats slots as a comma-separated list.
func joinInts(values []int) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ",")
}

// exclusiveSetting names a setting of the template that an old and a new
// instance cannot hold at the same time, or returns "". Such settings are a
// container_name, a fixed host port that the instances publish, a static IP
// address and a MAC address, which the load checks allow on one-instance
// services only.
func exclusiveSetting(tmpl *Template) string {
	if tmpl.ContainerName != "" {
		return "container_name " + tmpl.ContainerName
	}
	for _, port := range slices.Sorted(maps.Keys(tmpl.Host.PortBindings)) {
		for _, b := range tmpl.Host.PortBindings[port] {
			if b.HostPort != "" && !strings.Contains(b.HostPort, "-") {
				return fmt.Sprintf("host port %s of %s", strings.TrimPrefix(b.HostIP+":"+b.HostPort, ":"), port)
			}
		}
	}
	//nolint:staticcheck // MacAddress in Config is the only form API 1.41 takes.
	if tmpl.Config.MacAddress != "" {
		return "mac_address " + tmpl.Config.MacAddress
	}
	for _, name := range slices.Sorted(maps.Keys(tmpl.Networks)) {
		endpoint := tmpl.Networks[name]
		switch {
		case endpoint == nil:
		case endpoint.MacAddress != "":
			return "mac_address " + endpoint.MacAddress
		case endpoint.IPAMConfig != nil && endpoint.IPAMConfig.IPv4Address != "":
			return "ipv4_address " + endpoint.IPAMConfig.IPv4Address
		case endpoint.IPAMConfig != nil && endpoint.IPAMConfig.IPv6Address != "":
			return "ipv6_address " + endpoint.IPAMConfig.IPv6Address
		}
	}
	return ""
}
