package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
)

// createContainer creates a container on its first network and joins the
// others before it starts, because API 1.41 takes one network at create.
// A container that fails to join is removed again.
func (o *Orchestrator) createContainer(ctx context.Context, name string, cfg *container.Config, host *container.HostConfig,
	net string, endpoint *network.EndpointSettings, extra map[string]*network.EndpointSettings) (string, error) {
	if endpoint == nil {
		// The Docker client reads every endpoint's settings at create.
		endpoint = &network.EndpointSettings{}
	}
	netCfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{net: endpoint}}
	host.NetworkMode = container.NetworkMode(net)
	created, err := o.Engine.ContainerCreate(ctx, cfg, host, netCfg, nil, name)
	if err != nil {
		if errdefs.IsConflict(err) {
			return "", fmt.Errorf("create %s: a container with that name already exists; remove it with docker rm -f %s: %w", name, name, err)
		}
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	for _, extraNet := range slices.Sorted(maps.Keys(extra)) {
		if err := o.Engine.NetworkConnect(ctx, extraNet, created.ID, extra[extraNet]); err != nil {
			return "", errors.Join(fmt.Errorf("join %s to network %s: %w", name, extraNet, err),
				o.Engine.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true}))
		}
	}
	return created.ID, nil
}

// startError turns a start failure into a message that names the host port
// when the port is taken.
func startError(name string, host *container.HostConfig, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use") {
		var ports []string
		for _, bindings := range host.PortBindings {
			for _, b := range bindings {
				ports = append(ports, strings.TrimPrefix(b.HostIP+":"+b.HostPort, ":"))
			}
		}
		slices.Sort(ports)
		return fmt.Errorf("%w: start %s: host port %s is already in use by another program or container; "+
			"free it or change the published port in the file: %w", ErrPortInUse, name, strings.Join(ports, ", "), err)
	}
	return fmt.Errorf("start %s: %w", name, err)
}

// removeContainer stops a container gracefully (its own stop signal and
// timeout) and removes it. A container that is already gone is not an
// error.
func (o *Orchestrator) removeContainer(ctx context.Context, id string) error {
	err := o.Engine.ContainerStop(ctx, id, container.StopOptions{})
	if err != nil && !errdefs.IsNotFound(err) {
		o.logger().Warn("stop failed, removing by force", "container", shortID(id), "err", err)
	}
	err = o.Engine.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: false})
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", shortID(id), err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// firstLine returns the first line of an error's message, for events.
func firstLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}

func indent(lines []string) string {
	if len(lines) == 0 {
		return "  (no output)"
	}
	return "  " + strings.Join(lines, "\n  ")
}

// removeForce removes a container whatever its state.
var removeForce = container.RemoveOptions{Force: true}
