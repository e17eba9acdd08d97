package orchestrator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// execResult is the outcome of a command run inside a container.
type execResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// exec runs cmd inside a running container and waits for it to exit.
func (o *Orchestrator) exec(ctx context.Context, id string, cmd []string) (execResult, error) {
	created, err := o.Engine.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd:          cmd,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return execResult{}, fmt.Errorf("exec create in %s: %w", shortID(id), err)
	}
	attach, err := o.Engine.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return execResult{}, fmt.Errorf("exec attach in %s: %w", shortID(id), err)
	}
	defer attach.Close()
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&stdout, &stderr, attach.Reader)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		return execResult{}, ctx.Err()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return execResult{}, fmt.Errorf("exec output in %s: %w", shortID(id), err)
	}
	inspect, err := o.Engine.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return execResult{}, fmt.Errorf("exec inspect in %s: %w", shortID(id), err)
	}
	return execResult{
		ExitCode: inspect.ExitCode,
		Stdout:   stdout.String(),
		Stderr:   strings.TrimSpace(stderr.String()),
	}, nil
}

// lastLogs returns up to n last lines of a container's output, both
// streams merged, for failure reports. A last line printed without a
// final newline before the container died stays a line of its own.
func (o *Orchestrator) lastLogs(ctx context.Context, id string, n int) []string {
	return o.lastLogsUntil(ctx, id, n, time.Time{})
}

// lastLogsUntil returns up to n last lines of a container's output that
// the engine logged by until; a zero until means all of it.
func (o *Orchestrator) lastLogsUntil(ctx context.Context, id string, n int, until time.Time) []string {
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Tail: fmt.Sprint(n)}
	if !until.IsZero() {
		opts.Until = eventTime(until)
	}
	rc, err := o.Engine.ContainerLogs(ctx, id, opts)
	if err != nil {
		return []string{fmt.Sprintf("(logs unavailable: %v)", err)}
	}
	defer rc.Close()
	var lines []string
	err = readLogMessages(rc, func(_ string, message []byte) bool {
		for _, l := range parseLogMessage(logLine{}, message) {
			lines = append(lines, l.Message)
		}
		return true
	})
	if err != nil {
		lines = append(lines, fmt.Sprintf("(logs unreadable: %v)", err))
	}
	return lines
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
