package orchestrator

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
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
	// inspectHook, when set, may change what ContainerInspect returns for
	// a container name, to act out crashes. It runs with f.mu held.
	inspectHook func(name string, info *container.InspectResponse)
	// logs, when set, returns the output lines of a container by name.
	logs func(name string) []string
	// events are the engine's past events, which Events returns when the
	// request has an end time.
	events []events.Message
}

type fakeContainer struct {
	id, name string
	config   container.Config
	host     container.HostConfig
	networks []string
	running  bool
	// exited is true for a container that ran and exited with code 0, as a
	// ready probe does once it succeeds.
	exited  bool
	started time.Time
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
	if c.exited {
		state.Status = container.StateExited
	}
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
	info := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: c.id, Name: "/" + c.name, State: state, HostConfig: &c.host},
		Config:            &cfg,
		NetworkSettings:   &container.NetworkSettings{Networks: endpoints},
	}
	if f.inspectHook != nil {
		f.inspectHook(c.name, &info)
	}
	return info, nil
}

func (f *fakeEngine) ContainerCreate(_ context.Context, cfg *container.Config, host *container.HostConfig,
	netCfg *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.name == name {
			return container.CreateResponse{}, errdefs.ErrConflict.WithMessage("name in use: " + name)
		}
	}
	c := &fakeContainer{id: f.id("ctr"), name: name, config: *cfg, host: *host}
	for n, endpoint := range netCfg.EndpointsConfig {
		if endpoint == nil {
			// The Docker client dereferences every endpoint's settings.
			return container.CreateResponse{}, fmt.Errorf("create %s: nil endpoint settings for network %s", name, n)
		}
		c.networks = append(c.networks, n)
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
	if c.config.Labels[LabelRole] == RoleProbe {
		c.running, c.exited = false, true
	}
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

// ContainerLogs returns the lines of f.logs as the engine multiplexes
// them, all on stdout.
func (f *fakeEngine) ContainerLogs(_ context.Context, id string, _ container.LogsOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var buf bytes.Buffer
	if c, ok := f.containers[id]; ok && f.logs != nil {
		w := stdcopy.NewStdWriter(&buf, stdcopy.Stdout)
		for _, line := range f.logs(c.name) {
			fmt.Fprintln(w, line)
		}
	}
	return io.NopCloser(&buf), nil
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

// Events returns, when opts has an end time, the events of f.events that
// match its container and label filters and then ends. Without an end
// time it returns no events and ends when ctx does.
func (f *fakeEngine) Events(ctx context.Context, opts events.ListOptions) (<-chan events.Message, <-chan error) {
	f.mu.Lock()
	var past []events.Message
	if opts.Until != "" {
		for _, msg := range f.events {
			if matchesEvent(opts.Filters, msg) {
				past = append(past, msg)
			}
		}
	}
	f.mu.Unlock()
	messages, errs := make(chan events.Message), make(chan error, 1)
	go func() {
		for _, msg := range past {
			select {
			case messages <- msg:
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			}
		}
		if opts.Until == "" {
			<-ctx.Done()
		}
		errs <- io.EOF
	}()
	return messages, errs
}

func matchesEvent(args filters.Args, msg events.Message) bool {
	if ids := args.Get("container"); len(ids) > 0 && !slices.Contains(ids, msg.Actor.ID) {
		return false
	}
	if actions := args.Get("event"); len(actions) > 0 && !slices.Contains(actions, string(msg.Action)) {
		return false
	}
	for _, label := range args.Get("label") {
		key, value, _ := strings.Cut(label, "=")
		if msg.Actor.Attributes[key] != value {
			return false
		}
	}
	return true
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
