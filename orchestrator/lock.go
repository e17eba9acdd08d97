package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
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
	labelLockPID    = "io.clusterctl.lock.pid"
	labelLockHost   = "io.clusterctl.lock.host"
	// labelLockCommand is the holder's command name, such as up or down.
	labelLockCommand = "io.clusterctl.lock.command"
	// RoleLock marks the container that holds a project's lock.
	RoleLock = "lock"
)

// Lock is a held project lock. Release it with Release.
type Lock struct {
	o      *Orchestrator
	id     string
	attach types.HijackedResponse
	// started is closed once the start of the lock container returned.
	started chan struct{}
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
// ends in any way, SIGKILL included, the engine closes that input, and the
// container exits and removes itself. The engine notices a killed holder
// only after a moment, so Acquire also frees at once a lock whose holder
// ran on this host and whose process is gone.
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
			labelLockPID: strconv.Itoa(os.Getpid()), labelLockHost: hostname(),
			labelLockCommand: commandName(command),
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

// holdLock attaches to the lock container's input and starts it in the
// background. The lock is held from the moment the container exists,
// because its name is taken; starting it only ties its life to this
// process. A start takes a few hundred milliseconds on a busy engine, so
// the command goes on meanwhile, and checkStaleLock treats a lock that has
// not started yet as held.
func (o *Orchestrator) holdLock(ctx context.Context, id string) (*Lock, error) {
	attach, err := o.Engine.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true})
	if err != nil {
		_ = o.Engine.ContainerRemove(context.WithoutCancel(ctx), id, removeForce)
		return nil, fmt.Errorf("attach to lock: %w", err)
	}
	lock := &Lock{o: o, id: id, attach: attach, started: make(chan struct{})}
	go func() {
		defer close(lock.started)
		if err := o.Engine.ContainerStart(context.WithoutCancel(ctx), id, container.StartOptions{}); err != nil {
			// The name still excludes other commands; only a holder killed
			// from here on leaves a lock that takes lockStartTimeout to expire.
			o.logger().Warn("start project lock", "container", shortID(id), "err", err)
		}
	}()
	return lock, nil
}

// lockStartTimeout is how long a lock container that never started counts
// as held when its holder ran on another host, whose processes
// checkStaleLock cannot see.
const lockStartTimeout = 30 * time.Second

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
	if lockHeld(info) {
		labels := info.Config.Labels
		return fmt.Errorf("%w: project %q is locked by %s since %s; wait until that command ends "+
			"(the lock is released when its process exits, even when it is killed)",
			ErrLocked, project, labels[labelLockHolder], labels[labelLockSince])
	}
	// A lock container that exited, that never started within
	// lockStartTimeout, or whose holder on this host is gone before the
	// engine noticed, belongs to no one. The engine may be removing it
	// already, which is a conflict to wait out.
	err = o.Engine.ContainerRemove(ctx, info.ID, removeForce)
	if err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
		return fmt.Errorf("remove stale lock of %s: %w", project, err)
	}
	return nil
}

// lockHeld reports whether an existing lock container belongs to a live
// holder: it runs, or it was created and not started yet, and its holder
// is not known to be gone.
func lockHeld(info container.InspectResponse) bool {
	if holderGone(info.Config.Labels) {
		return false
	}
	if info.State.Running {
		return true
	}
	if info.State.Status != "created" {
		return false
	}
	since, err := time.Parse(time.RFC3339, info.Config.Labels[labelLockSince])
	return err == nil && time.Since(since) < lockStartTimeout
}

// Release frees the lock: it closes the lock container's input and removes
// the container, so that nothing of the command is left on the engine when
// it returns.
func (l *Lock) Release(ctx context.Context) error {
	<-l.started
	_ = l.attach.CloseWrite()
	l.attach.Close()
	ctx = context.WithoutCancel(ctx)
	err := l.o.Engine.ContainerRemove(ctx, l.id, removeForce)
	if err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
		return fmt.Errorf("release lock: %w", err)
	}
	// A conflict means that the engine is removing the container already,
	// because its input closed and it has AutoRemove set. The wait keeps
	// the lock from outliving the command.
	if err := l.o.waitRemoved(ctx, l.id, lockSettleTimeout); err != nil {
		return fmt.Errorf("release lock: %w", err)
	}
	return nil
}

// holderGone reports whether a lock's holder ran on this host and its
// process no longer exists. The engine notices a killed holder's closed
// connection only after a moment; this check does not wait for that.
func holderGone(labels map[string]string) bool {
	pid, err := strconv.Atoi(labels[labelLockPID])
	if err != nil || labels[labelLockHost] != hostname() || pid == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// commandName returns the first word of a lock holder's command line.
func commandName(command string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(command), " ")
	return name
}

// heldByOtherThanDown reports whether a command other than down holds the
// project's lock, such as an up that removes orphans before it creates
// the instances that replace them.
func (o *Orchestrator) heldByOtherThanDown(ctx context.Context, project string) bool {
	info, err := o.Engine.ContainerInspect(ctx, LockName(project))
	return err == nil && info.Config != nil && lockHeld(info) && info.Config.Labels[labelLockCommand] != "down"
}

func hostname() string {
	host, _ := os.Hostname()
	return host
}

func lockHolder(command string) string {
	host := hostname()
	name := "unknown user"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return fmt.Sprintf("%q (pid %d on %s, user %s)", strings.TrimSpace(command), os.Getpid(), host, name)
}
