package orchestrator

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/clusterctl/clusterctl/compose"
	"github.com/clusterctl/clusterctl/internal/frontdoor"
)

// Paths and identities inside the front door and probe image.
const (
	// ToolBinary is where the clusterctl binary sits in the tool image.
	ToolBinary = "/clusterctl"
	// AdminSocket is the front door's admin socket, on a tmpfs because the
	// root filesystem is read-only.
	AdminSocket = "/run/clusterctl/admin.sock"
	adminDir    = "/run/clusterctl"
	// toolUser is the unprivileged user that front doors and probes run as,
	// uid and gid 65534 (nobody on most distributions).
	toolUser = "65534:65534"
	// frontDoorReadyTimeout bounds the wait for a new front door's admin
	// socket.
	frontDoorReadyTimeout = 15 * time.Second
)

// frontDoorStatusCommand prints a front door's rotation and counters as
// JSON when run inside it.
var frontDoorStatusCommand = []string{ToolBinary, "frontdoor", "status", "--socket", AdminSocket}

// toolImage ensures the image that runs front doors and probes exists and
// returns its tag. The image is FROM scratch with the clusterctl binary
// itself, so it is built locally and nothing is pulled.
func (o *Orchestrator) toolImage(ctx context.Context) (string, error) {
	if o.ToolImage != "" {
		return o.ToolImage, nil
	}
	o.toolMu.Lock()
	defer o.toolMu.Unlock()
	if o.toolTag != "" {
		return o.toolTag, nil
	}
	tag, err := o.ensureToolImage(ctx)
	if err == nil {
		o.toolTag = tag
	}
	return tag, err
}

// ensureToolImage builds the tool image from Executable unless the engine
// has it already.
func (o *Orchestrator) ensureToolImage(ctx context.Context) (string, error) {
	binary, err := os.ReadFile(o.Executable)
	if err != nil {
		return "", fmt.Errorf("read clusterctl binary for the front door image: %w", err)
	}
	if err := requireStatic(o.Executable, binary); err != nil {
		return "", err
	}
	sum := sha256.Sum256(binary)
	tag := "clusterctl-tool:" + hex.EncodeToString(sum[:])[:12]
	if _, err := o.Engine.ImageInspect(ctx, tag); err == nil {
		return tag, nil
	} else if !errdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspect image %s: %w", tag, err)
	}
	buildContext, err := toolImageContext(binary)
	if err != nil {
		return "", err
	}
	resp, err := o.Engine.ImageBuild(ctx, buildContext, build.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true,
		Labels: map[string]string{"org.opencontainers.image.version": o.Version},
	})
	if err != nil {
		return "", fmt.Errorf("build front door image: %w", err)
	}
	defer resp.Body.Close()
	if err := readBuildOutput(resp.Body); err != nil {
		return "", fmt.Errorf("build front door image: %w", err)
	}
	return tag, nil
}

func toolImageContext(binary []byte) (io.Reader, error) {
	dockerfile := "FROM scratch\nCOPY clusterctl " + ToolBinary + "\nUSER " + toolUser +
		"\nENTRYPOINT [\"" + ToolBinary + "\"]\n"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte(dockerfile)},
		{"clusterctl", 0o755, binary},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return nil, fmt.Errorf("front door image context: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("front door image context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("front door image context: %w", err)
	}
	return &buf, nil
}

// FrontDoorName returns the container name of a service's front door.
func FrontDoorName(project, service string) string {
	return project + "-" + service + "-frontdoor"
}

// frontDoorSpec is the create request of a front door and its revision.
type frontDoorSpec struct {
	Name     string
	Revision string
	Config   *container.Config
	Host     *container.HostConfig
	Network  string
	Endpoint *network.EndpointSettings
	Extra    map[string]*network.EndpointSettings
}

// newFrontDoorSpec describes the front door of a service. The front door
// owns the published ports and carries the service name as an alias on
// every network of the service. It runs unprivileged, with a read-only root
// filesystem, no added capabilities and no Docker socket.
func newFrontDoorSpec(p *compose.Project, svc *compose.Service, image string) frontDoorSpec {
	cmd := []string{"frontdoor", "serve", "--mode", svc.Proxy.Mode, "--socket", AdminSocket, "--service", svc.Name}
	exposed := nat.PortSet{}
	bindings := nat.PortMap{}
	for _, port := range svc.Proxy.Ports {
		key := nat.Port(fmt.Sprintf("%d/tcp", port.Target))
		// Several host ports may publish one container port, as in
		// "8080:80" and "8081:80". The front door listens on it once, and
		// the engine binds every host port to that listener.
		if _, listed := exposed[key]; !listed {
			cmd = append(cmd, "--port", strconv.Itoa(port.Target))
		}
		exposed[key] = struct{}{}
		if port.Published {
			bindings[key] = append(bindings[key], nat.PortBinding{HostIP: port.HostIP, HostPort: port.HostPort})
		}
	}
	spec := frontDoorSpec{
		Name: FrontDoorName(p.Name, svc.Name),
		Config: &container.Config{
			Image:        image,
			Cmd:          cmd,
			User:         toolUser,
			ExposedPorts: exposed,
			StopSignal:   "SIGTERM",
			Labels: map[string]string{
				LabelProject: p.Name,
				LabelService: svc.Name,
				LabelRole:    RoleFrontDoor,
			},
		},
		Host: &container.HostConfig{
			PortBindings:   bindings,
			RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
			ReadonlyRootfs: true,
			CapDrop:        []string{"ALL"},
			SecurityOpt:    []string{"no-new-privileges:true"},
			Tmpfs:          map[string]string{adminDir: "mode=0700,uid=65534,gid=65534,size=1m"},
			// Lets the unprivileged front door listen on ports below 1024
			// without a capability; the sysctl is per network namespace.
			Sysctls: map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"},
		},
	}
	networks := ServiceNetworks(svc)
	for _, key := range slices.Sorted(maps.Keys(networks)) {
		// The front door stands in for the instances, under the service
		// name and the network's aliases.
		endpoint := &network.EndpointSettings{Aliases: []string{svc.Name}}
		if nc := networks[key]; nc != nil {
			endpoint.Aliases = append(endpoint.Aliases, nc.Aliases...)
		}
		name := NetworkName(p, key)
		if spec.Network == "" {
			spec.Network, spec.Endpoint = name, endpoint
			continue
		}
		if spec.Extra == nil {
			spec.Extra = map[string]*network.EndpointSettings{}
		}
		spec.Extra[name] = endpoint
	}
	// The revision leaves the image out: a new clusterctl binary alone does
	// not replace a running front door, because a replacement briefly
	// closes the published ports.
	cfg := *spec.Config
	cfg.Image = ""
	data, _ := json.Marshal([]any{cfg, spec.Host, spec.Network, spec.Extra})
	sum := sha256.Sum256(data)
	spec.Revision = hex.EncodeToString(sum[:])[:12]
	spec.Config.Labels[LabelRevision] = spec.Revision
	return spec
}

// createFrontDoor creates and starts a front door and waits until its admin
// socket responds.
func (o *Orchestrator) createFrontDoor(ctx context.Context, spec frontDoorSpec) (string, error) {
	id, err := o.createContainer(ctx, spec.Name, spec.Config, spec.Host, spec.Network, spec.Endpoint, spec.Extra, "")
	if err != nil {
		return "", err
	}
	return id, o.startFrontDoor(ctx, id, spec)
}

// startFrontDoor starts a created or stopped front door and waits until its
// admin socket responds.
func (o *Orchestrator) startFrontDoor(ctx context.Context, id string, spec frontDoorSpec) error {
	if err := o.Engine.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return startError(spec.Name, spec.Host, err)
	}
	deadline := time.Now().Add(frontDoorReadyTimeout)
	for {
		info, err := o.Engine.ContainerInspect(ctx, id)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", spec.Name, err)
		}
		if c := o.detectCrash(ctx, info, 0); c != nil {
			return fmt.Errorf("front door %s %s\nlast log lines:\n%s", spec.Name, c.Reason, indent(o.lastLogs(ctx, id, logTail)))
		}
		res, err := o.exec(ctx, id, frontDoorStatusCommand)
		if err == nil && res.ExitCode == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("status exited with code %d: %s", res.ExitCode, res.Stderr)
			}
			return fmt.Errorf("front door %s did not respond on its admin socket within %s: %w\nlast log lines:\n%s",
				spec.Name, frontDoorReadyTimeout, err, indent(o.lastLogs(ctx, id, logTail)))
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return err
		}
	}
}

// Backend is one instance in a front door's rotation.
type Backend = frontdoor.Backend

// pushMembership replaces the rotation of a front door. It returns once
// requests in flight on removed instances finished or drainTimeout passed.
func (o *Orchestrator) pushMembership(ctx context.Context, frontDoorID string, backends []Backend, drainTimeout time.Duration) error {
	data, err := membershipJSON(backends, drainTimeout)
	if err != nil {
		return err
	}
	res, err := o.exec(ctx, frontDoorID, []string{ToolBinary, "frontdoor", "members", "--socket", AdminSocket, string(data)})
	if err != nil {
		return fmt.Errorf("push membership: %w", err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("push membership: front door exited with code %d: %s", res.ExitCode, res.Stderr)
	}
	o.logger().Debug("membership pushed", "frontdoor", shortID(frontDoorID), "backends", len(backends), "result", strings.TrimSpace(res.Stdout))
	return nil
}

// membershipJSON encodes a rotation, its instances sorted by slot.
func membershipJSON(backends []Backend, drainTimeout time.Duration) ([]byte, error) {
	slices.SortFunc(backends, func(a, b Backend) int { return a.Slot - b.Slot })
	data, err := json.Marshal(frontdoor.Membership{Backends: backends, DrainTimeout: drainTimeout})
	if err != nil {
		return nil, fmt.Errorf("encode membership: %w", err)
	}
	return data, nil
}

// requireStatic rejects a binary that cannot run in an empty image: one
// that is not a Linux ELF file, or that needs a dynamic loader.
func requireStatic(path string, binary []byte) error {
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		return fmt.Errorf("%s is not a Linux executable, so it cannot run in the front door image; "+
			"use a clusterctl built for linux with CGO_ENABLED=0: %w", path, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked, so it cannot run in the front door image; "+
				"rebuild it with CGO_ENABLED=0 (make build does)", path)
		}
	}
	return nil
}
