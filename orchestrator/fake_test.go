package orchestrator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/clusterctl/clusterctl/internal/frontdoor"
)

// fakeEngine is an in-memory Engine: containers start running at once and
// report healthy, every exec exits 0, and a build tags a new image. Tests
// inject failures and slow starts through the hooks.
type fakeEngine struct {
	mu         sync.Mutex
	images     map[string]string
	containers map[string]*fakeContainer
	networks   map[string]string
	netOpts    map[string]network.CreateOptions
	volumes    map[string]volume.CreateOptions
	builds     []build.ImageBuildOptions
	// starts lists container names in the order they started.
	starts   []string
	nextID   int
	execs    []string
	execCmds [][]string
	// maxBusySlots is the largest number of slots that had more than one
	// live container at the same time, not counting instances that left
	// the rotation and are stopping.
	maxBusySlots int
	// members is the latest rotation pushed to each front door, and
	// everMember every instance that was in a rotation once.
	members    map[string]map[string]bool
	everMember map[string]bool
	// stoppedServing lists instances stopped while a front door still had
	// them in its rotation.
	stoppedServing []string
	// frontDoorStatus, when set, returns what `frontdoor status` prints in
	// a front door; statusExecs maps the IDs of those execs to it.
	frontDoorStatus func(frontDoor string) frontdoor.StatusReport
	statusExecs     map[string]string
	// streams maps the IDs of member stream execs to their front door.
	streams map[string]string
	// failStart, when it returns an error for a container name, makes
	// ContainerStart fail.
	failStart func(name string) error
	// exitOnStart, when it returns true for a container name, makes the
	// container exit with the returned code as soon as it starts.
	exitOnStart func(name string) (int, bool)
	// health, when set, returns the health status that a running
	// container with a healthcheck reports.
	health func(name string) container.HealthStatus
	// logs, when set, serves ContainerLogs; without it every log is empty.
	logs *fakeLogs
	// events, when set, is the stream Events returns.
	events chan events.Message
	// pastEvents are the events that Events returns, when events is nil,
	// for a request with an end time, filtered by container, event and
	// label as the engine filters them.
	pastEvents []events.Message
	// removed lists every ContainerRemove of a container that existed.
	removed []removal
	// inspectHook, when set, may change what ContainerInspect returns for
	// a container name, to act out crashes. It runs with f.mu held.
	inspectHook func(name string, info *container.InspectResponse)
}

type fakeContainer struct {
	id, name string
	config   container.Config
	host     container.HostConfig
	platform *ocispec.Platform
	networks []string
	copied   []copied
	running  bool
	exited   bool
	exitCode int
	started  time.Time
}

// removal is one ContainerRemove call: the container's name and whether
// its anonymous volumes went with it.
type removal struct {
	name             string
	anonymousVolumes bool
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
		netOpts:    map[string]network.CreateOptions{},
		volumes:    map[string]volume.CreateOptions{},
		members:    map[string]map[string]bool{},
		everMember: map[string]bool{},
		streams:    map[string]string{},

		statusExecs: map[string]string{},
	}
}

// inRotation reports whether any front door has the instance in its latest
// rotation; the caller holds f.mu.
func (f *fakeEngine) inRotation(id string) bool {
	for _, members := range f.members {
		if members[id] {
			return true
		}
	}
	return false
}

// recordMembership keeps the rotation that a members command pushes; the
// caller holds f.mu.
func (f *fakeEngine) recordMembership(frontDoor string, cmd []string) {
	if !slices.Contains(cmd, "members") || len(cmd) == 0 {
		return
	}
	var m frontdoor.Membership
	if json.Unmarshal([]byte(cmd[len(cmd)-1]), &m) != nil {
		return
	}
	members := map[string]bool{}
	for _, b := range m.Backends {
		members[b.ID] = true
		f.everMember[b.ID] = true
	}
	f.members[frontDoor] = members
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

// ImageBuild reads the context, records the options and tags a new image
// with every tag.
func (f *fakeEngine) ImageBuild(_ context.Context, buildContext io.Reader, opts build.ImageBuildOptions) (build.ImageBuildResponse, error) {
	if _, err := io.Copy(io.Discard, buildContext); err != nil {
		return build.ImageBuildResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.builds = append(f.builds, opts)
	id := "sha256:" + f.id("built")
	for _, tag := range opts.Tags {
		f.images[tag] = id
	}
	return build.ImageBuildResponse{Body: io.NopCloser(strings.NewReader(`{"stream":"built"}` + "\n"))}, nil
}

// NetworkList returns the networks that match the name and label filters.
func (f *fakeEngine) NetworkList(_ context.Context, opts network.ListOptions) ([]network.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []network.Summary
	for name, id := range f.networks {
		o := f.netOpts[name]
		if !matchFilters(opts.Filters, name, o.Labels) {
			continue
		}
		out = append(out, network.Summary{Name: name, ID: id, Labels: o.Labels, Driver: o.Driver,
			Internal: o.Internal, Attachable: o.Attachable, Options: o.Options})
	}
	return out, nil
}

// matchFilters reports whether an object matches every name filter (a
// substring, as the engine matches) and label filter (key or key=value).
func matchFilters(args filters.Args, name string, labels map[string]string) bool {
	for _, want := range args.Get("name") {
		if !strings.Contains(name, want) {
			return false
		}
	}
	for _, want := range args.Get("label") {
		key, value, hasValue := strings.Cut(want, "=")
		got, ok := labels[key]
		if !ok || (hasValue && got != value) {
			return false
		}
	}
	return true
}

func (f *fakeEngine) NetworkCreate(_ context.Context, name string, opts network.CreateOptions) (network.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.networks[name]; ok {
		return network.CreateResponse{}, errdefs.ErrConflict.WithMessage("network exists: " + name)
	}
	id := f.id("net")
	f.networks[name] = id
	f.netOpts[name] = opts
	return network.CreateResponse{ID: id}, nil
}

func (f *fakeEngine) NetworkRemove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, nid := range f.networks {
		if nid == id {
			delete(f.networks, name)
			delete(f.netOpts, name)
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

// VolumeList returns the volumes that match the name and label filters.
func (f *fakeEngine) VolumeList(_ context.Context, opts volume.ListOptions) (volume.ListResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out volume.ListResponse
	for name, o := range f.volumes {
		if matchFilters(opts.Filters, name, o.Labels) {
			out.Volumes = append(out.Volumes, &volume.Volume{Name: name, Driver: o.Driver, Options: o.DriverOpts, Labels: o.Labels})
		}
	}
	return out, nil
}

func (f *fakeEngine) VolumeCreate(_ context.Context, opts volume.CreateOptions) (volume.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.volumes[opts.Name] = opts
	return volume.Volume{Name: opts.Name, Labels: opts.Labels}, nil
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
		state, status := container.StateCreated, "Created"
		switch {
		case c.running:
			state, status = container.StateRunning, "Up 1 second"
		case c.exited:
			state, status = container.StateExited, fmt.Sprintf("Exited (%d) 1 second ago", c.exitCode)
		}
		out = append(out, container.Summary{ID: c.id, Names: []string{"/" + c.name}, Labels: c.config.Labels, State: state, Status: status})
	}
	return out, nil
}

func (f *fakeEngine) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		// As on the engine, a container name works in place of its ID.
		for _, named := range f.containers {
			if named.name == id {
				c, ok = named, true
			}
		}
	}
	if !ok {
		return container.InspectResponse{}, errdefs.ErrNotFound
	}
	cfg := c.config
	state := &container.State{Running: c.running, Status: container.StateCreated}
	switch {
	case c.running:
		state.Status = container.StateRunning
		state.StartedAt = c.started.Format(time.RFC3339Nano)
		if cfg.Healthcheck != nil {
			state.Health = &container.Health{Status: container.Healthy}
			if f.health != nil {
				state.Health.Status = f.health(c.name)
			}
		}
	case c.exited:
		state.Status = container.StateExited
		state.ExitCode = c.exitCode
		state.StartedAt = c.started.Format(time.RFC3339Nano)
	}
	// As on the engine, a container has an address only while it runs.
	endpoints := map[string]*network.EndpointSettings{}
	for i, n := range c.networks {
		endpoints[n] = &network.EndpointSettings{}
		if c.running {
			endpoints[n].IPAddress = fmt.Sprintf("10.9.0.%d", i+2)
		}
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
		for n, endpoint := range netCfg.EndpointsConfig {
			if endpoint == nil {
				// The Docker client dereferences every endpoint's settings.
				return container.CreateResponse{}, fmt.Errorf("create %s: nil endpoint settings for network %s", name, n)
			}
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
	if port := f.boundPort(c); port != "" {
		return fmt.Errorf("driver failed programming external connectivity on endpoint %s: "+
			"Bind for %s failed: port is already allocated", c.name, port)
	}
	c.running, c.exited, c.started = true, false, time.Now().Add(-time.Hour)
	f.starts = append(f.starts, c.name)
	if f.exitOnStart != nil {
		if code, exits := f.exitOnStart(c.name); exits {
			c.running, c.exited, c.exitCode = false, true, code
		}
	}
	if c.config.Labels[LabelRole] == RoleProbe {
		// A ready probe succeeds at once.
		c.running, c.exited, c.exitCode = false, true, 0
	}
	return nil
}

// boundPort returns a fixed host port of c that a running container binds
// already, because the engine then refuses to start c. The caller holds
// f.mu.
func (f *fakeEngine) boundPort(c *fakeContainer) string {
	for _, bindings := range c.host.PortBindings {
		for _, b := range bindings {
			if b.HostPort == "" {
				continue
			}
			for _, other := range f.containers {
				if other == c || !other.running {
					continue
				}
				for _, otherBindings := range other.host.PortBindings {
					if slices.Contains(otherBindings, b) {
						return b.HostIP + ":" + b.HostPort
					}
				}
			}
		}
	}
	return ""
}

// ContainerRename renames a container; a name in use is a conflict.
func (f *fakeEngine) ContainerRename(_ context.Context, id, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return errdefs.ErrNotFound
	}
	for _, other := range f.containers {
		if other.name == name {
			return errdefs.ErrConflict.WithMessage("name in use: " + name)
		}
	}
	c.name = name
	return nil
}

func (f *fakeEngine) ContainerStop(_ context.Context, id string, _ container.StopOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.containers[id]; ok {
		if f.inRotation(id) {
			f.stoppedServing = append(f.stoppedServing, c.name)
		}
		c.running = false
		f.countBusySlots()
		return nil
	}
	return errdefs.ErrNotFound
}

func (f *fakeEngine) ContainerRemove(_ context.Context, id string, opts container.RemoveOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return errdefs.ErrNotFound
	}
	f.removed = append(f.removed, removal{name: c.name, anonymousVolumes: opts.RemoveVolumes})
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

func (f *fakeEngine) ContainerLogs(ctx context.Context, id string, opts container.LogsOptions) (io.ReadCloser, error) {
	if f.logs != nil {
		return f.logs.serve(ctx, id, opts)
	}
	return io.NopCloser(bytes.NewReader(nil)), nil
}

func (f *fakeEngine) ContainerExecCreate(_ context.Context, id string, opts container.ExecOptions) (container.ExecCreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs = append(f.execs, strings.Join(opts.Cmd, " "))
	execID := f.id("exec")
	if slices.Contains(opts.Cmd, "--stream") {
		f.streams[execID] = id
		return container.ExecCreateResponse{ID: execID}, nil
	}
	f.execCmds = append(f.execCmds, opts.Cmd)
	f.recordMembership(id, opts.Cmd)
	if slices.Equal(opts.Cmd, frontDoorStatusCommand) {
		f.statusExecs[execID] = id
	}
	return container.ExecCreateResponse{ID: execID}, nil
}

// serveMemberStream plays `frontdoor members --stream` in a front door: it
// records each membership line as if it came with its own exec, and
// replies to each with an empty drain result.
func (f *fakeEngine) serveMemberStream(frontDoor string, conn net.Conn) {
	defer conn.Close()
	out := stdcopy.NewStdWriter(conn, stdcopy.Stdout)
	lines := bufio.NewScanner(conn)
	for lines.Scan() {
		cmd := []string{ToolBinary, "frontdoor", "members", lines.Text()}
		f.mu.Lock()
		f.execCmds = append(f.execCmds, cmd)
		f.recordMembership(frontDoor, cmd)
		f.countBusySlots()
		f.mu.Unlock()
		if _, err := io.WriteString(out, `{"result":{"added":[],"removed":[]}}`+"\n"); err != nil {
			return
		}
	}
}

// ContainerAttach returns a connection that ends at once.
func (f *fakeEngine) ContainerAttach(context.Context, string, container.AttachOptions) (types.HijackedResponse, error) {
	client, server := net.Pipe()
	server.Close()
	return types.HijackedResponse{Conn: client, Reader: bufio.NewReader(client)}, nil
}

// ContainerExecAttach returns a connection that ends at once, because the
// exec printed nothing. For a member stream it returns one that replies to
// each line.
func (f *fakeEngine) ContainerExecAttach(_ context.Context, execID string, _ container.ExecAttachOptions) (types.HijackedResponse, error) {
	client, server := net.Pipe()
	f.mu.Lock()
	frontDoor, stream := f.streams[execID]
	statusOf, status := f.statusExecs[execID]
	f.mu.Unlock()
	switch {
	case stream:
		go f.serveMemberStream(frontDoor, server)
	case status && f.frontDoorStatus != nil:
		report := f.frontDoorStatus(statusOf)
		go func() {
			defer server.Close()
			_ = json.NewEncoder(stdcopy.NewStdWriter(server, stdcopy.Stdout)).Encode(report)
		}()
	default:
		server.Close()
	}
	return types.HijackedResponse{Conn: client, Reader: bufio.NewReader(client)}, nil
}

func (f *fakeEngine) ContainerExecInspect(context.Context, string) (container.ExecInspect, error) {
	return container.ExecInspect{ExitCode: 0}, nil
}

// countBusySlots updates maxBusySlots; the caller holds f.mu.
func (f *fakeEngine) countBusySlots() {
	perSlot := map[string]int{}
	for _, c := range f.containers {
		leaving := f.everMember[c.id] && !f.inRotation(c.id)
		if c.config.Labels[LabelRole] == RoleInstance && (c.running || c.started.IsZero()) && !leaving {
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

// Events returns f.events when set. Otherwise, for a request with an end
// time, it returns the matching f.pastEvents and ends. Without an end time
// it returns no events and ends when ctx does.
func (f *fakeEngine) Events(ctx context.Context, opts events.ListOptions) (<-chan events.Message, <-chan error) {
	errs := make(chan error, 1)
	if f.events != nil {
		return f.events, errs
	}
	f.mu.Lock()
	var past []events.Message
	if opts.Until != "" {
		for _, msg := range f.pastEvents {
			if matchesEvent(opts.Filters, msg) {
				past = append(past, msg)
			}
		}
	}
	f.mu.Unlock()
	messages := make(chan events.Message)
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

// startOrder returns the started container names, in order.
func (f *fakeEngine) startOrder() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.starts)
}
