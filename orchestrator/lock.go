package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
)

// ErrLocked is returned when another clusterctl command holds the project.
var ErrLocked = errors.New("project locked")

// Lock labels.
const (
	labelLockHolder = "io.clusterctl.lock.holder"
	labelLockSince  = "io.clusterctl.lock.since"
	// RoleLock marks the container that holds a project's lock.
	RoleLock = "lock"
)

// Lock is a held project lock. Release it with Release.
type Lock struct {
	o      *Orchestrator
	id     string
	attach types.HijackedResponse
}

// LockName returns the name of a project's lock container.
func LockName(project string) string {
	return project + "-clusterctl-lock"
}

// Acquire takes the project's lock for one mutating command, or fails at
// once with ErrLocked naming the holder.
//
// The lock is a container of the tool image, created under a fixed name
// (so the engine makes creation atomic) and running `clusterctl lock hold`
// with its standard input attached to this process. When this process
// ends in any way, SIGKILL included, the engine closes that input, the
// container exits and removes itself, and the lock is free again: a lock
// left by a killed process never blocks the next command.
func (o *Orchestrator) Acquire(ctx context.Context, project, command string) (*Lock, error) {
	image, err := o.toolImage(ctx)
	if err != nil {
		return nil, err
	}
	holder := lockHolder(command)
	cfg := &container.Config{
		Image: image, Cmd: []string{"lock", "hold"}, User: toolUser,
		OpenStdin: true, StdinOnce: true, AttachStdin: true,
		Labels: map[string]string{
			LabelProject: project, LabelRole: RoleLock,
			labelLockHolder: holder, labelLockSince: time.Now().UTC().Format(time.RFC3339),
		},
	}
	host := &container.HostConfig{AutoRemove: true, ReadonlyRootfs: true, CapDrop: []string{"ALL"}, NetworkMode: "none"}
	// A lock released an instant ago may still be removing itself; the
	// loop gives it that instant rather than reporting a holder that left.
	deadline := time.Now().Add(lockSettleTimeout)
	for {
		created, err := o.Engine.ContainerCreate(ctx, cfg, host, nil, nil, LockName(project))
		if err == nil {
			return o.holdLock(ctx, created.ID)
		}
		if !errdefs.IsConflict(err) || time.Now().After(deadline) {
			return nil, fmt.Errorf("lock project %s: %w", project, err)
		}
		if err := o.checkStaleLock(ctx, project); err != nil {
			return nil, err
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// lockSettleTimeout bounds the wait for a released lock container to be
// gone.
const lockSettleTimeout = 5 * time.Second

// holdLock attaches to the lock container's input and starts it.
func (o *Orchestrator) holdLock(ctx context.Context, id string) (*Lock, error) {
	attach, err := o.Engine.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true})
	if err != nil {
		_ = o.Engine.ContainerRemove(context.WithoutCancel(ctx), id, removeForce)
		return nil, fmt.Errorf("attach to lock: %w", err)
	}
	if err := o.Engine.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		attach.Close()
		_ = o.Engine.ContainerRemove(context.WithoutCancel(ctx), id, removeForce)
		return nil, fmt.Errorf("start lock: %w", err)
	}
	return &Lock{o: o, id: id, attach: attach}, nil
}

// checkStaleLock returns ErrLocked naming the holder when the existing lock
// is live, and removes it when its holder is gone.
func (o *Orchestrator) checkStaleLock(ctx context.Context, project string) error {
	info, err := o.Engine.ContainerInspect(ctx, LockName(project))
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect lock of %s: %w", project, err)
	}
	if info.State.Running {
		labels := info.Config.Labels
		return fmt.Errorf("%w: project %q is locked by %s since %s; wait until that command ends "+
			"(the lock is released when its process exits, even when it is killed)",
			ErrLocked, project, labels[labelLockHolder], labels[labelLockSince])
	}
	// A lock container that exited belongs to a process that is gone. The
	// engine may be removing it already, which is a conflict to wait out.
	err = o.Engine.ContainerRemove(ctx, info.ID, removeForce)
	if err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
		return fmt.Errorf("remove stale lock of %s: %w", project, err)
	}
	return nil
}

// Release frees the lock by closing the lock container's input: the
// container exits and removes itself, without this process waiting for it.
func (l *Lock) Release(context.Context) error {
	if err := l.attach.CloseWrite(); err != nil {
		l.attach.Close()
		return fmt.Errorf("release lock: %w", err)
	}
	l.attach.Close()
	return nil
}

func lockHolder(command string) string {
	host, _ := os.Hostname()
	name := "unknown user"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return fmt.Sprintf("%q (pid %d on %s, user %s)", strings.TrimSpace(command), os.Getpid(), host, name)
}
