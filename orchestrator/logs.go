package orchestrator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
)

// LogsOptions adjust Logs.
type LogsOptions struct {
	// Targets are service names, service.slot pairs or container names;
	// empty means every instance.
	Targets []string
	Follow  bool
	// Tail is how many of each instance's last lines to print before
	// following; a negative value means all of them.
	Tail int
	// Since, when not zero, leaves out lines the engine received before it.
	Since time.Time
	// Timestamps prints each line's time after its prefix.
	Timestamps bool
	// JSON prints one JSON object per line in place of text.
	JSON bool
	// Color colors each instance's prefix with ANSI escape sequences. It
	// has no effect with JSON.
	Color bool
	// OnNoInstance, when set, is called once when Follow finds no instance
	// to follow yet, so that the caller can report that it waits.
	OnNoInstance func()
}

// logRetryDelay is the pause before a follow stream that ended while its
// container kept running is opened again.
const logRetryDelay = time.Second

// Logs writes the output of the project's instances to w, each line
// prefixed "service.slot | ". Instances that exited are included, so the
// last lines of a crashed instance are there. The lines that exist are
// merged across instances in the order the engine received them. With
// Follow, Logs then prints new lines as they arrive, from the selected
// instances and from every matching instance that starts later, until ctx
// ends or the project has no container left: a restarted instance
// continues where it stopped, an instance created by a scale or a rollout
// joins, and a removed one leaves.
func (o *Orchestrator) Logs(ctx context.Context, project string, opts LogsOptions, w io.Writer) error {
	var messages <-chan events.Message
	var watchErrs <-chan error
	var start time.Time
	if opts.Follow {
		// Watch before listing, so that an instance started in between is
		// not missed. The first two steps may both see it, which is fine.
		watchCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		messages, watchErrs = o.Engine.Events(watchCtx, events.ListOptions{Filters: filters.NewArgs(
			filters.Arg("type", string(events.ContainerEventType)),
			filters.Arg("event", string(events.ActionStart)),
			filters.Arg("event", string(events.ActionDestroy)),
			filters.Arg("label", LabelProject+"="+project),
			filters.Arg("label", LabelRole+"="+RoleInstance),
		)})
		start = o.engineTime(ctx)
	}
	selected, err := o.logTargets(ctx, project, opts.Targets)
	if err != nil {
		return err
	}
	printer := newLogPrinter(w, opts)
	for _, c := range selected {
		printer.register(c.Service, c.Slot)
	}
	cursors, err := o.printBacklog(ctx, selected, opts, printer)
	if err != nil || !opts.Follow {
		return cmp.Or(err, printer.writeErr())
	}
	if len(selected) == 0 && opts.OnNoInstance != nil {
		opts.OnNoInstance()
	}
	f := &logFollow{o: o, project: project, opts: opts, printer: printer, followers: map[string]chan struct{}{}}
	for _, c := range selected {
		cursor, ok := cursors[c.ID]
		if !ok {
			cursor = logCursor{time: start}
		}
		f.follow(ctx, c, cursor)
	}
	return f.run(ctx, messages, watchErrs)
}

// engineTime returns the engine's clock, so that log cursors compare with
// the engine's timestamps even when the two machines' clocks differ.
func (o *Orchestrator) engineTime(ctx context.Context) time.Time {
	info, err := o.Engine.Info(ctx)
	if err == nil {
		if t, err := time.Parse(time.RFC3339Nano, info.SystemTime); err == nil {
			return t
		}
	}
	return time.Now()
}

// logTargets returns the instances that targets select, sorted by service,
// slot and creation.
func (o *Orchestrator) logTargets(ctx context.Context, project string, targets []string) ([]ObservedContainer, error) {
	observed, err := o.observe(ctx, project)
	if err != nil {
		return nil, err
	}
	var selected []ObservedContainer
	for _, c := range observed {
		if c.Role == RoleInstance && matchesTarget(c, targets) {
			selected = append(selected, c)
		}
	}
	if len(targets) > 0 && len(selected) == 0 {
		return nil, fmt.Errorf("no instance of project %q matches %s; run clusterctl ps to list them",
			project, strings.Join(targets, ", "))
	}
	slices.SortFunc(selected, func(a, b ObservedContainer) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Slot, b.Slot), a.Created.Compare(b.Created))
	})
	return selected, nil
}

func matchesTarget(c ObservedContainer, targets []string) bool {
	if len(targets) == 0 {
		return true
	}
	for _, t := range targets {
		if t == c.Service || t == c.Name || t == c.Service+"."+strconv.Itoa(c.Slot) {
			return true
		}
	}
	return false
}

// logCursor is the position after the last line printed of one container:
// the time of that line and how many printed lines had exactly that time.
// A stream opened again from that time skips those lines, so no line is
// printed twice and none is lost.
type logCursor struct {
	time time.Time
	seen int
}

func (c *logCursor) advance(t time.Time) {
	switch {
	case t.IsZero():
	case t.Equal(c.time):
		c.seen++
	default:
		c.time, c.seen = t, 1
	}
}

// newLines returns the filter of a stream opened at the cursor's time: it
// reports whether a line is new and moves the cursor past each new line.
func (c *logCursor) newLines() func(time.Time) bool {
	start, skip := c.time, c.seen
	return func(t time.Time) bool {
		if !t.IsZero() && !start.IsZero() {
			if t.Before(start) {
				return false
			}
			if t.Equal(start) && skip > 0 {
				skip--
				return false
			}
		}
		c.advance(t)
		return true
	}
}

// printBacklog prints the lines the selected instances have now, merged by
// time, and returns the cursor of each container that printed a line.
func (o *Orchestrator) printBacklog(ctx context.Context, selected []ObservedContainer, opts LogsOptions,
	printer *logPrinter) (map[string]logCursor, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tail := "all"
	if opts.Tail >= 0 {
		tail = strconv.Itoa(opts.Tail)
	}
	sources := make([]<-chan logLine, len(selected))
	errs := make([]error, len(selected))
	var wg sync.WaitGroup
	for i, c := range selected {
		lines := make(chan logLine, 256)
		sources[i] = lines
		wg.Go(func() {
			defer close(lines)
			err := o.readLogs(ctx, c, container.LogsOptions{Tail: tail, Since: sinceParam(opts.Since)}, func(l logLine) bool {
				select {
				case lines <- l:
					return true
				case <-ctx.Done():
					return false
				}
			})
			if err != nil && !errdefs.IsNotFound(err) {
				errs[i] = err
			}
		})
	}
	cursors := map[string]logCursor{}
	mergeByTime(sources, func(l logLine) {
		printer.print(l)
		cursor := cursors[l.containerID]
		cursor.advance(l.Time)
		cursors[l.containerID] = cursor
	})
	wg.Wait()
	return cursors, errors.Join(errs...)
}

// readLogs reads one container's log with timestamps and calls emit for
// each line until the stream ends, ctx ends or emit returns false. The
// caller sets Follow, Tail and Since in opts, and readLogs sets the rest.
func (o *Orchestrator) readLogs(ctx context.Context, c ObservedContainer, opts container.LogsOptions,
	emit func(logLine) bool) error {
	opts.ShowStdout, opts.ShowStderr, opts.Timestamps = true, true, true
	rc, err := o.Engine.ContainerLogs(ctx, c.ID, opts)
	if err != nil {
		return fmt.Errorf("logs of %s: %w", c.Name, err)
	}
	defer rc.Close()
	base := logLine{Service: c.Service, Slot: c.Slot, Name: c.Name, containerID: c.ID}
	err = readLogMessages(rc, func(stream string, message []byte) bool {
		base.Stream = stream
		for _, l := range parseLogMessage(base, message) {
			if !emit(l) {
				return false
			}
		}
		return true
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("read logs of %s: %w", c.Name, err)
	}
	return nil
}

// sinceParam formats a time as the engine's since parameter, Unix seconds
// with nanoseconds. The zero time gives "", which means no lower bound.
func sinceParam(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// logFollow is one logs --follow run: a follower per instance, started for
// the selected instances and for each matching instance that starts later.
type logFollow struct {
	o       *Orchestrator
	project string
	opts    LogsOptions
	printer *logPrinter
	wg      sync.WaitGroup
	// followers maps container IDs to the channel that wakes their
	// follower. Only run's goroutine uses it after the start.
	followers map[string]chan struct{}
}

// run dispatches engine events until ctx ends, the event stream fails, or
// the project has no container left, then waits for the followers to stop.
func (f *logFollow) run(ctx context.Context, messages <-chan events.Message, watchErrs <-chan error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		f.wg.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return f.printer.writeErr()
		case err := <-watchErrs:
			if ctx.Err() != nil {
				return f.printer.writeErr()
			}
			return fmt.Errorf("watch engine events: %w", err)
		case msg := <-messages:
			if f.dispatch(ctx, msg) {
				return f.printer.writeErr()
			}
		}
	}
}

// dispatch follows an instance that started and drops one that was
// removed. It returns true once a removal left no follower and no container
// of the project, as down does, because nothing is left to follow. While
// another mutating command holds the project, it returns false, because
// that command may create instances next.
func (f *logFollow) dispatch(ctx context.Context, msg events.Message) bool {
	id := msg.Actor.ID
	if msg.Action == events.ActionDestroy {
		if wake, ok := f.followers[id]; ok {
			signal(wake)
			delete(f.followers, id)
		}
		if len(f.followers) > 0 {
			return false
		}
		left, err := f.o.observe(ctx, f.project)
		return err == nil && len(left) == 0 && !f.o.heldByOtherThanDown(ctx, f.project)
	}
	c := observedFromLabels(id, msg.Actor.Attributes)
	if !matchesTarget(c, f.opts.Targets) {
		return false
	}
	f.printer.register(c.Service, c.Slot)
	// An instance new to this run prints all it has, within Since: it
	// started after the run began, so every line of it is new.
	f.follow(ctx, c, logCursor{})
	return false
}

// follow starts the follower of a container, or wakes it when it runs.
func (f *logFollow) follow(ctx context.Context, c ObservedContainer, cursor logCursor) {
	if wake, ok := f.followers[c.ID]; ok {
		signal(wake)
		return
	}
	wake := make(chan struct{}, 1)
	f.followers[c.ID] = wake
	f.wg.Go(func() { f.followInstance(ctx, c, cursor, wake) })
}

func signal(wake chan struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}

// followInstance streams one container's new lines from cursor on. The
// engine ends a follow stream when the container stops, so the follower
// then waits for the next start and streams again from the cursor. The last
// lines before a crash and the first after the restart are thus printed
// once each. It returns when ctx ends or the container is removed.
func (f *logFollow) followInstance(ctx context.Context, c ObservedContainer, cursor logCursor, wake <-chan struct{}) {
	for {
		info, err := f.o.Engine.ContainerInspect(ctx, c.ID)
		if errdefs.IsNotFound(err) || ctx.Err() != nil {
			return
		}
		since := cursor.time
		if f.opts.Since.After(since) {
			since = f.opts.Since
		}
		if err == nil {
			isNew := cursor.newLines()
			err = f.o.readLogs(ctx, c, container.LogsOptions{Follow: true, Tail: "all", Since: sinceParam(since)},
				func(l logLine) bool {
					if isNew(l.Time) {
						f.printer.print(l)
					}
					return true
				})
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errdefs.IsNotFound(err) {
			f.o.logger().Warn("log stream ended", "container", c.Name, "err", err)
		}
		if !f.waitForStart(ctx, c, info, wake) {
			return
		}
	}
}

// waitForStart returns true when the container's log should be streamed
// again: it started again, or it still runs and the stream ended for
// another reason. It returns false when ctx ends or the container is gone.
func (f *logFollow) waitForStart(ctx context.Context, c ObservedContainer, before container.InspectResponse,
	wake <-chan struct{}) bool {
	now, err := f.o.Engine.ContainerInspect(ctx, c.ID)
	switch {
	case errdefs.IsNotFound(err) || ctx.Err() != nil:
		return false
	case err == nil && now.State.Running && before.State != nil && now.State.StartedAt != before.State.StartedAt:
		return true
	case err != nil || now.State.Running:
		return sleep(ctx, logRetryDelay) == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-wake:
		return true
	}
}
