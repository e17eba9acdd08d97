package orchestrator

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeEngine is an in-memory Engine: containers start running at once and
// report healthy, every exec exits 0. Tests inject failures through the
// failStart hook.
type fakeEngine struct {
	mu         sync.Mutex
	images     map[string]string
	containers map[string]*fakeContainer
	networks   map[string]string
	volumes    map[string]bool
	nextID     int
	execs      []string
	execCmds   [][]string
	// maxBusySlots is the largest number of slots that had more than one
	// live container at the same time.
	maxBusySlots int
	// failStart, when it returns an error for a container name, makes
	// ContainerStart fail.
	failStart func(name string) error
}

type fakeContainer struct {
	id, name string
	config   container.Config
	host     container.HostConfig
	platform *ocispec.Platform
	networks []string
	copied   []copied
	running  bool
	started  time.Time
}

// copied is one CopyToContainer call: the destination and the tar archive.
type copied struct {
	dst     string
	archive []byte
}

var _ Engine = (*fakeEngine)(nil)

func newFakeEngine() *fakeEngine {
	return &fakeEngine{
		images:     map[string]string{"app:v1": "sha256:app1", "clusterctl-tool:any": "sha256:tool"},
		containers: map[string]*fakeContainer{},
		networks:   map[string]string{},
		volumes:    map[string]bool{},
	}
}

func (f *fakeEngine) id(prefix string) string {
	f.nextID++
	return fmt.Sprintf("%s%04d", prefix, f.nextID)
}

func (f *fakeEngine) Info(context.Context) (system.Info, error) { return system.Info{NCPU: 4}, nil }

func (f *fakeEngine) ClientVersion() string { return "1.41" }

func (f *fakeEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.images[ref]; ok {
		return image.InspectResponse{ID: id}, nil
	}
	if strings.HasPrefix(ref, "clusterctl-tool:") {
		return image.InspectResponse{ID: "sha256:tool"}, nil
	}
	return image.InspectResponse{}, errdefs.ErrNotFound.WithMessage("no such image: " + ref)
}

func (f *fakeEngine) ImageBuild(context.Context, io.Reader, build.ImageBuildOptions) (build.ImageBuildResponse, error) {
	return build.ImageBuildResponse{}, fmt.Errorf("the fake engine does not build")
}

func (f *fakeEngine) NetworkList(context.Context, network.ListOptions) ([]network.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []network.Summary
	for name, id := range f.networks {
		out = append(out, network.Summary{Name: name, ID: id})
	}
	return out, nil
}

func (f *fakeEngine) NetworkCreate(_ context.Context, name string, _ network.CreateOptions) (network.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.id("net")
	f.networks[name] = id
	return network.CreateResponse{ID: id}, nil
}

func (f *fakeEngine) NetworkRemove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, nid := range f.networks {
		if nid == id {
			delete(f.networks, name)
			return nil
		}
	}
	return errdefs.ErrNotFound
}

func (f *fakeEngine) NetworkConnect(_ context.Context, net, id string, _ *network.EndpointSettings) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return errdefs.ErrNotFound
	}
	c.networks = append(c.networks, net)
	return nil
}

func (f *fakeEngine) VolumeList(context.Context, volume.ListOptions) (volume.ListResponse, error) {
	return volume.ListResponse{}, nil
}

func (f *fakeEngine) VolumeCreate(_ context.Context, opts volume.CreateOptions) (volume.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.volumes[opts.Name] = true
	return volume.Volume{Name: opts.Name}, nil
}

func (f *fakeEngine) VolumeRemove(_ context.Context, name string, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.volumes, name)
	return nil
}

func (f *fakeEngine) ContainerList(context.Context, container.ListOptions) ([]container.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []container.Summary
	for _, c := range f.containers {
		state := container.StateCreated
		if c.running {
			state = container.StateRunning
		}
		out = append(out, container.Summary{ID: c.id, Names: []string{"/" + c.name}, Labels: c.config.Labels, State: state})
	}
	return out, nil
}

func (f *fakeEngine) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return container.InspectResponse{}, errdefs.ErrNotFound
	}
	cfg := c.config
	state := &container.State{Running: c.running, Status: container.StateCreated}
	if c.running {
		state.Status = container.StateRunning
		state.StartedAt = c.started.Format(time.RFC3339Nano)
		if cfg.Healthcheck != nil {
			state.Health = &container.Health{Status: container.Healthy}
		}
	}
	endpoints := map[string]*network.EndpointSettings{}
	for i, n := range c.networks {
		endpoints[n] = &network.EndpointSettings{IPAddress: fmt.Sprintf("10.9.0.%d", i+2)}
	}
	return container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: c.id, Name: "/" + c.name, State: state, HostConfig: &c.host},
		Config:            &cfg,
		NetworkSettings:   &container.NetworkSettings{Networks: endpoints},
	}, nil
}

func (f *fakeEngine) ContainerCreate(_ context.Context, cfg *container.Config, host *container.HostConfig,
	netCfg *network.NetworkingConfig, platform *ocispec.Platform, name string) (container.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.name == name {
			return container.CreateResponse{}, errdefs.ErrConflict.WithMessage("name in use: " + name)
		}
	}
	c := &fakeContainer{id: f.id("ctr"), name: name, config: *cfg, host: *host, platform: platform}
	if netCfg != nil {
		for n := range netCfg.EndpointsConfig {
			c.networks = append(c.networks, n)
		}
	}
	f.containers[c.id] = c
	f.countBusySlots()
	return container.CreateResponse{ID: c.id}, nil
}

func (f *fakeEngine) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return errdefs.ErrNotFound
	}
	if f.failStart != nil {
		if err := f.failStart(c.name); err != nil {
			return err
		}
	}
	c.running, c.started = true, time.Now().Add(-time.Hour)
	return nil
}

func (f *fakeEngine) ContainerStop(_ context.Context, id string, _ container.StopOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.containers[id]; ok {
		c.running = false
		f.countBusySlots()
		return nil
	}
	return errdefs.ErrNotFound
}

func (f *fakeEngine) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.containers[id]; !ok {
		return errdefs.ErrNotFound
	}
	delete(f.containers, id)
	return nil
}

// CopyToContainer records the tar archive copied into a container.
func (f *fakeEngine) CopyToContainer(_ context.Context, id, dst string, content io.Reader, _ container.CopyToContainerOptions) error {
	data, err := io.ReadAll(content)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return errdefs.ErrNotFound
	}
	c.copied = append(c.copied, copied{dst: dst, archive: data})
	return nil
}

func (f *fakeEngine) ContainerLogs(context.Context, string, container.LogsOptions) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(nil)), nil
}

func (f *fakeEngine) ContainerExecCreate(_ context.Context, id string, opts container.ExecOptions) (container.ExecCreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs = append(f.execs, strings.Join(opts.Cmd, " "))
	f.execCmds = append(f.execCmds, opts.Cmd)
	return container.ExecCreateResponse{ID: "exec-" + id}, nil
}

// ContainerAttach returns a connection that ends at once.
func (f *fakeEngine) ContainerAttach(context.Context, string, container.AttachOptions) (types.HijackedResponse, error) {
	client, server := net.Pipe()
	server.Close()
	return types.HijackedResponse{Conn: client, Reader: bufio.NewReader(client)}, nil
}

// ContainerExecAttach returns a connection that ends at once: the exec
// printed nothing.
func (f *fakeEngine) ContainerExecAttach(context.Context, string, container.ExecAttachOptions) (types.HijackedResponse, error) {
	client, server := net.Pipe()
	server.Close()
	return types.HijackedResponse{Conn: client, Reader: bufio.NewReader(client)}, nil
}

func (f *fakeEngine) ContainerExecInspect(context.Context, string) (container.ExecInspect, error) {
	return container.ExecInspect{ExitCode: 0}, nil
}

// countBusySlots updates maxBusySlots; the caller holds f.mu.
func (f *fakeEngine) countBusySlots() {
	perSlot := map[string]int{}
	for _, c := range f.containers {
		if c.config.Labels[LabelRole] == RoleInstance && (c.running || c.started.IsZero()) {
			perSlot[c.config.Labels[LabelService]+"."+c.config.Labels[LabelInstance]]++
		}
	}
	busy := 0
	for _, n := range perSlot {
		if n > 1 {
			busy++
		}
	}
	f.maxBusySlots = max(f.maxBusySlots, busy)
}

// Events returns a stream without events that ends at once when opts has
// an end time, else when ctx does.
func (f *fakeEngine) Events(ctx context.Context, opts events.ListOptions) (<-chan events.Message, <-chan error) {
	errs := make(chan error, 1)
	go func() {
		if opts.Until == "" {
			<-ctx.Done()
		}
		errs <- io.EOF
	}()
	return make(chan events.Message), errs
}

// names returns the names of all containers.
func (f *fakeEngine) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.containers {
		out = append(out, c.name)
	}
	return out
}
