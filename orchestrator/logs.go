package orchestrator

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/pkg/stdcopy"
)

// LogsOptions adjust Logs.
type LogsOptions struct {
	// Targets are service names, service.slot pairs or container names;
	// empty means every instance.
	Targets    []string
	Follow     bool
	Tail       string
	Timestamps bool
	Since      string
}

// Logs writes the merged output of the project's instances to w, each line
// prefixed "service.slot | ". Instances that exited are included, so what
// a crashed instance printed last is there. Without Follow the instances
// are written one after the other in slot order. With Follow, lines are
// written as they arrive until ctx is cancelled or every stream ends.
func (o *Orchestrator) Logs(ctx context.Context, project string, opts LogsOptions, w io.Writer) error {
	observed, err := o.observe(ctx, project)
	if err != nil {
		return err
	}
	var selected []ObservedContainer
	for _, c := range observed {
		if c.Role == RoleInstance && matchesTarget(c, opts.Targets) {
			selected = append(selected, c)
		}
	}
	if len(opts.Targets) > 0 && len(selected) == 0 {
		return fmt.Errorf("no instance of project %q matches %s; run clusterctl ps to list them", project, strings.Join(opts.Targets, ", "))
	}
	slices.SortFunc(selected, func(a, b ObservedContainer) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Slot, b.Slot), a.Created.Compare(b.Created))
	})
	width := 0
	for _, c := range selected {
		width = max(width, len(logPrefix(c)))
	}
	out := &lockedWriter{w: w}
	if !opts.Follow {
		for _, c := range selected {
			if err := o.streamLogs(ctx, c, opts, out, width); err != nil {
				return err
			}
		}
		return nil
	}
	return o.followLogs(ctx, project, opts, selected, out, width)
}

// followLogs streams the selected instances and, until ctx ends, every
// matching instance that starts later. New instances from a scale or a
// rollout join the stream, and an instance that restarts after a crash is
// picked up again from the moment it restarted.
func (o *Orchestrator) followLogs(ctx context.Context, project string, opts LogsOptions,
	selected []ObservedContainer, out *lockedWriter, width int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	messages, errs := o.Engine.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("event", string(events.ActionStart)),
		filters.Arg("label", LabelProject+"="+project),
		filters.Arg("label", LabelRole+"="+RoleInstance),
	)})
	var mu sync.Mutex
	active := map[string]bool{}
	var wg sync.WaitGroup
	stream := func(c ObservedContainer, opts LogsOptions) {
		mu.Lock()
		if active[c.ID] {
			mu.Unlock()
			return
		}
		active[c.ID] = true
		mu.Unlock()
		wg.Go(func() {
			if err := o.streamLogs(ctx, c, opts, out, width); err != nil && ctx.Err() == nil {
				o.logger().Warn("log stream ended", "container", c.Name, "err", err)
			}
			mu.Lock()
			delete(active, c.ID)
			mu.Unlock()
		})
	}
	for _, c := range selected {
		stream(c, opts)
	}
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch engine events: %w", err)
		case msg := <-messages:
			c := observedFromLabels(msg.Actor.ID, msg.Actor.Attributes)
			if !matchesTarget(c, opts.Targets) {
				continue
			}
			// Only what the container printed since this start: earlier output
			// was streamed before, or predates the command.
			restarted := opts
			restarted.Tail = "all"
			restarted.Since = fmt.Sprintf("%d.%09d", msg.TimeNano/1e9, msg.TimeNano%1e9)
			stream(c, restarted)
		}
	}
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

func logPrefix(c ObservedContainer) string {
	return c.Service + "." + strconv.Itoa(c.Slot)
}

func (o *Orchestrator) streamLogs(ctx context.Context, c ObservedContainer, opts LogsOptions, out *lockedWriter, width int) error {
	info, err := o.Engine.ContainerInspect(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", c.Name, err)
	}
	rc, err := o.Engine.ContainerLogs(ctx, c.ID, container.LogsOptions{
		ShowStdout: true, ShowStderr: true, Follow: opts.Follow,
		Tail: opts.Tail, Timestamps: opts.Timestamps, Since: opts.Since,
	})
	if err != nil {
		return fmt.Errorf("logs of %s: %w", c.Name, err)
	}
	defer rc.Close()
	prefix := fmt.Sprintf("%-*s | ", width, logPrefix(c))
	stdout := &prefixWriter{out: out, prefix: prefix}
	stderr := &prefixWriter{out: out, prefix: prefix}
	if info.Config.Tty {
		_, err = io.Copy(stdout, rc)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, rc)
	}
	stdout.flush()
	stderr.flush()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("read logs of %s: %w", c.Name, err)
	}
	return nil
}

// lockedWriter serializes whole lines from several streams.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) writeLine(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, line)
}

// prefixWriter splits a stream into lines and writes each with a prefix.
type prefixWriter struct {
	out     *lockedWriter
	prefix  string
	partial []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		p.out.writeLine(p.prefix + strings.TrimSuffix(string(p.partial[:i]), "\r") + "\n")
		p.partial = p.partial[i+1:]
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	if len(p.partial) > 0 {
		p.out.writeLine(p.prefix + string(p.partial) + "\n")
		p.partial = p.partial[:0]
	}
}
