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
	"github.com/docker/docker/api/types/versions"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// createContainer creates a container on its first network and joins the
// others before it starts, because API 1.41 takes one network at create.
// A container that fails to join is removed again. With net empty the
// container joins no network, and host.NetworkMode (network_mode) applies.
// platform, such as linux/arm64, selects the local image's platform and is
// empty for the engine's default.
func (o *Orchestrator) createContainer(ctx context.Context, name string, cfg *container.Config, host *container.HostConfig,
	net string, endpoint *network.EndpointSettings, extra map[string]*network.EndpointSettings, platform string) (string, error) {
	var netCfg *network.NetworkingConfig
	if net != "" {
		if endpoint == nil {
			// The Docker client reads every endpoint's settings at create.
			endpoint = &network.EndpointSettings{}
		}
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{net: endpoint}}
		host.NetworkMode = container.NetworkMode(net)
		moveMACAddress(o.Engine.ClientVersion(), cfg, endpoint)
	}
	created, err := o.Engine.ContainerCreate(ctx, cfg, host, netCfg, parsePlatform(platform), name)
	if err != nil {
		if errdefs.IsConflict(err) {
			return "", fmt.Errorf("create %s: a container with that name already exists; remove it with docker rm -f %s: %w", name, name, err)
		}
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	for _, extraNet := range slices.Sorted(maps.Keys(extra)) {
		if err := o.Engine.NetworkConnect(ctx, extraNet, created.ID, extra[extraNet]); err != nil {
			return "", errors.Join(fmt.Errorf("join %s to network %s: %w", name, extraNet, err),
				o.Engine.ContainerRemove(context.WithoutCancel(ctx), created.ID, discardForce))
		}
	}
	return created.ID, nil
}

// moveMACAddress moves the container's MAC address to its first endpoint on
// API 1.44 and later, which ignore the container-wide field that older APIs
// take.
func moveMACAddress(apiVersion string, cfg *container.Config, endpoint *network.EndpointSettings) {
	//nolint:staticcheck // MacAddress in Config is the only form API 1.41 takes.
	if cfg.MacAddress == "" || endpoint == nil || versions.LessThan(apiVersion, "1.44") {
		return
	}
	endpoint.MacAddress = cfg.MacAddress //nolint:staticcheck // see above
	cfg.MacAddress = ""                  //nolint:staticcheck // see above
}

// parsePlatform parses os[/arch[/variant]], or returns nil for "".
func parsePlatform(platform string) *ocispec.Platform {
	if platform == "" {
		return nil
	}
	parts := strings.SplitN(platform, "/", 3)
	p := &ocispec.Platform{OS: parts[0]}
	if len(parts) > 1 {
		p.Architecture = parts[1]
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	return p
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
// timeout) and removes it, keeping its anonymous volumes. A container that
// is already gone is not an error.
func (o *Orchestrator) removeContainer(ctx context.Context, id string) error {
	return o.removeContainerVolumes(ctx, id, false)
}

// removeContainerVolumes is removeContainer that also removes the
// container's anonymous volumes when anonymousVolumes is set, as
// "docker compose down --volumes" does. Named volumes are never removed
// with a container.
func (o *Orchestrator) removeContainerVolumes(ctx context.Context, id string, anonymousVolumes bool) error {
	err := o.Engine.ContainerStop(ctx, id, container.StopOptions{})
	if err != nil && !errdefs.IsNotFound(err) {
		o.logger().Warn("stop failed, removing by force", "container", shortID(id), "err", err)
	}
	err = o.Engine.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: anonymousVolumes})
	switch {
	case err == nil, errdefs.IsNotFound(err):
		return nil
	case errdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress"):
		// The engine is removing the container already: an auto-removed
		// probe, or a removal that an interrupted command started.
		return o.waitRemoved(ctx, id, removalTimeout)
	default:
		return fmt.Errorf("remove %s: %w", shortID(id), err)
	}
}

// waitRemoved waits until a container that the engine is removing is
// gone, for at most timeout.
func (o *Orchestrator) waitRemoved(ctx context.Context, id string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := o.Engine.ContainerInspect(ctx, id)
		if errdefs.IsNotFound(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s still exists %s after its removal began; remove it with docker rm -f %s",
				shortID(id), timeout, shortID(id))
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// removalTimeout bounds the wait for a removal that was in progress.
const removalTimeout = 30 * time.Second

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

// discardForce removes a container that this run created and gives up,
// whatever its state, with its anonymous volumes, which nothing else can
// mount by name.
var discardForce = container.RemoveOptions{Force: true, RemoveVolumes: true}
