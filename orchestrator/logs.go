package orchestrator

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/container"
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
// are written one after the other in slot order; with Follow lines are
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
	var wg sync.WaitGroup
	errs := make([]error, len(selected))
	for i, c := range selected {
		wg.Go(func() { errs[i] = o.streamLogs(ctx, c, opts, out, width) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
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
