package orchestrator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/strslice"
	"github.com/docker/go-connections/nat"

	"github.com/clusterctl/clusterctl/compose"
)

// DefaultRestartPolicy applies when a service sets neither restart nor
// deploy.restart_policy. A cluster manager restarts crashed instances, as
// PM2 and Swarm do, unlike Docker Compose's default of "no".
const DefaultRestartPolicy = container.RestartPolicyUnlessStopped

// Template is everything that the instances of one revision of a service
// share. Its canonical JSON determines the revision.
type Template struct {
	Service string `json:"service"`
	// Image is the reference as written, ImageID what it resolved to.
	Image   string `json:"image"`
	ImageID string `json:"image_id"`
	// Version is the service.version resource attribute.
	Version string               `json:"version,omitempty"`
	Env     EnvTemplate          `json:"env"`
	Config  container.Config     `json:"config"`
	Host    container.HostConfig `json:"host"`
	// Networks maps network names, as the engine names them, to endpoint
	// settings. Instances join all of them.
	Networks map[string]*network.EndpointSettings `json:"networks"`
	// ContainerName and Hostname are the service's fixed values, valid for
	// a one-instance service only.
	ContainerName string `json:"container_name,omitempty"`
	Hostname      string `json:"hostname,omitempty"`
	// Revision is the hash of everything above, set by NewTemplate.
	Revision string `json:"-"`
}

// NewTemplate translates a compose service into the container settings
// shared by its instances. imageID is the local image's ID and version the
// service.version to report. The warnings name settings that clusterctl
// replaced or does not apply.
func NewTemplate(p *compose.Project, svc *compose.Service, imageID, version string) (*Template, []string, error) {
	cfg := svc.Config
	env, warnings := NewEnvTemplate(p.Name, svc, version)
	t := &Template{
		Service: svc.Name,
		Image:   ImageRef(p, svc),
		ImageID: imageID,
		Version: version,
		Env:     env,

		ContainerName: svc.Config.ContainerName,
		Hostname:      svc.Config.Hostname,
	}
	t.Config = container.Config{
		Image:        imageID,
		Entrypoint:   strslice.StrSlice(cfg.Entrypoint),
		Cmd:          strslice.StrSlice(cfg.Command),
		WorkingDir:   cfg.WorkingDir,
		User:         cfg.User,
		Labels:       maps.Clone(map[string]string(cfg.Labels)),
		StopSignal:   cfg.StopSignal,
		StopTimeout:  stopTimeout(cfg.StopGracePeriod),
		Healthcheck:  healthConfig(cfg.HealthCheck),
		ExposedPorts: exposedPorts(svc),
		Tty:          cfg.Tty,
		OpenStdin:    cfg.StdinOpen,
		Domainname:   cfg.DomainName,
	}
	if svc.MinUptime > 0 {
		// A label of the template, so that a change of min_uptime is a new
		// revision, as a change of the restart policy is.
		if t.Config.Labels == nil {
			t.Config.Labels = map[string]string{}
		}
		t.Config.Labels[LabelMinUptime] = svc.MinUptime.String()
	}
	host, err := hostConfig(p, svc)
	if err != nil {
		return nil, nil, err
	}
	t.Host = host
	t.Networks = endpoints(p, svc)
	t.Revision = t.hash()
	return t, warnings, nil
}

// ImageRef returns the image a service runs: its image field, or for a
// build-only service the name Docker Compose gives it, project-service.
func ImageRef(p *compose.Project, svc *compose.Service) string {
	if svc.Config.Image != "" {
		return svc.Config.Image
	}
	return p.Name + "-" + svc.Name
}

func (t *Template) hash() string {
	data, err := json.Marshal(t)
	if err != nil {
		// Every field is a plain value or a Docker API type that marshals.
		panic(fmt.Sprintf("marshal template: %v", err))
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:12]
}

// Spec returns the JSON stored in LabelSpec on every instance.
func (t *Template) Spec() string {
	data, _ := json.Marshal(t)
	return string(data)
}

// InstanceSpec is the complete create request for one instance.
type InstanceSpec struct {
	Name       string
	Slot       int
	InstanceID string
	Config     *container.Config
	Host       *container.HostConfig
	// Network is the network the instance is created on; Extra are joined
	// after create, because API 1.41 accepts one network at create.
	Network      string
	Endpoint     *network.EndpointSettings
	ExtraNetwork map[string]*network.EndpointSettings
}

// Instance returns the create request for one instance of the template.
// count is the service's instance count, recorded in CLUSTERCTL_INSTANCES;
// instanceID must be unique per container.
func (t *Template) Instance(project string, slot, count int, instanceID string) InstanceSpec {
	name := InstanceName(project, t.Service, t.ContainerName, slot, instanceID)
	cfg := t.Config
	cfg.Env = t.Env.Instance(InstanceVars{
		Slot: slot, Count: count, Name: name, InstanceID: instanceID, Revision: t.Revision,
	})
	cfg.Labels = maps.Clone(t.Config.Labels)
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	maps.Copy(cfg.Labels, map[string]string{
		LabelProject:    project,
		LabelService:    t.Service,
		LabelInstance:   strconv.Itoa(slot),
		LabelRevision:   t.Revision,
		LabelRole:       RoleInstance,
		LabelInstanceID: instanceID,
		LabelCount:      strconv.Itoa(count),
		LabelImage:      t.Image,
		LabelSpec:       t.Spec(),
	})
	if t.Hostname != "" {
		cfg.Hostname = t.Hostname
	}
	host := t.Host
	spec := InstanceSpec{Name: name, Slot: slot, InstanceID: instanceID, Config: &cfg, Host: &host}
	for _, net := range slices.Sorted(maps.Keys(t.Networks)) {
		endpoint := *t.Networks[net]
		endpoint.Aliases = slices.Clone(endpoint.Aliases)
		if spec.Network == "" {
			spec.Network, spec.Endpoint = net, &endpoint
			continue
		}
		if spec.ExtraNetwork == nil {
			spec.ExtraNetwork = map[string]*network.EndpointSettings{}
		}
		spec.ExtraNetwork[net] = &endpoint
	}
	return spec
}

// InstanceName returns a container name that starts with
// project-service-slot and is unique per container, because an old and a
// new instance of one slot exist side by side during a replacement. A
// container_name on a one-instance service is used as written.
func InstanceName(project, service, containerName string, slot int, instanceID string) string {
	if containerName != "" {
		return containerName
	}
	suffix := strings.ReplaceAll(instanceID, "-", "")
	if len(suffix) > 6 {
		suffix = suffix[:6]
	}
	return fmt.Sprintf("%s-%s-%d-%s", project, service, slot, suffix)
}

func stopTimeout(grace *types.Duration) *int {
	if grace == nil {
		return nil
	}
	seconds := int((time.Duration(*grace) + time.Second - 1) / time.Second)
	return &seconds
}

func healthConfig(hc *types.HealthCheckConfig) *container.HealthConfig {
	if hc == nil {
		return nil
	}
	if hc.Disable {
		return &container.HealthConfig{Test: []string{"NONE"}}
	}
	out := &container.HealthConfig{Test: slices.Clone(hc.Test)}
	if hc.Interval != nil {
		out.Interval = time.Duration(*hc.Interval)
	}
	if hc.Timeout != nil {
		out.Timeout = time.Duration(*hc.Timeout)
	}
	if hc.StartPeriod != nil {
		out.StartPeriod = time.Duration(*hc.StartPeriod)
	}
	if hc.Retries != nil {
		out.Retries = int(*hc.Retries)
	}
	return out
}

// exposedPorts lists the container ports the service declares, so that
// the image metadata and docker ps show them.
func exposedPorts(svc *compose.Service) nat.PortSet {
	ports := nat.PortSet{}
	for _, p := range svc.Config.Ports {
		ports[nat.Port(fmt.Sprintf("%d/%s", p.Target, protocol(p.Protocol)))] = struct{}{}
	}
	for _, e := range svc.Config.Expose {
		port, proto, _ := strings.Cut(e, "/")
		ports[nat.Port(port+"/"+protocol(proto))] = struct{}{}
	}
	if len(ports) == 0 {
		return nil
	}
	return ports
}

func protocol(p string) string {
	if p == "" {
		return "tcp"
	}
	return p
}

func hostConfig(p *compose.Project, svc *compose.Service) (container.HostConfig, error) {
	cfg := svc.Config
	host := container.HostConfig{
		RestartPolicy:  restartPolicy(cfg),
		CapAdd:         cfg.CapAdd,
		CapDrop:        cfg.CapDrop,
		SecurityOpt:    cfg.SecurityOpt,
		ReadonlyRootfs: cfg.ReadOnly,
		Privileged:     cfg.Privileged,
		Init:           cfg.Init,
		ExtraHosts:     cfg.ExtraHosts.AsList(":"),
		DNS:            cfg.DNS,
		DNSSearch:      cfg.DNSSearch,
		DNSOptions:     cfg.DNSOpts,
		Sysctls:        map[string]string(cfg.Sysctls),
		ShmSize:        int64(cfg.ShmSize),
		Resources:      resources(cfg),
		Tmpfs:          tmpfs(cfg.Tmpfs),
	}
	if svc.Proxy == nil {
		host.PortBindings = portBindings(cfg.Ports)
	}
	if cfg.Logging != nil {
		host.LogConfig = container.LogConfig{Type: cfg.Logging.Driver, Config: cfg.Logging.Options}
	}
	mounts, err := volumeMounts(p, svc)
	if err != nil {
		return host, err
	}
	host.Mounts = mounts
	return host, nil
}

func restartPolicy(cfg types.ServiceConfig) container.RestartPolicy {
	if cfg.Deploy != nil && cfg.Deploy.RestartPolicy != nil {
		rp := cfg.Deploy.RestartPolicy
		policy := container.RestartPolicy{Name: container.RestartPolicyAlways}
		switch rp.Condition {
		case "none":
			policy.Name = container.RestartPolicyDisabled
		case "on-failure":
			policy.Name = container.RestartPolicyOnFailure
		}
		if rp.MaxAttempts != nil && policy.Name == container.RestartPolicyOnFailure {
			policy.MaximumRetryCount = int(*rp.MaxAttempts)
		}
		return policy
	}
	name, retries, _ := strings.Cut(cfg.Restart, ":")
	switch name {
	case "":
		return container.RestartPolicy{Name: DefaultRestartPolicy}
	case "no":
		return container.RestartPolicy{Name: container.RestartPolicyDisabled}
	}
	policy := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	if n, err := strconv.Atoi(retries); err == nil {
		policy.MaximumRetryCount = n
	}
	return policy
}

func resources(cfg types.ServiceConfig) container.Resources {
	res := container.Resources{
		Memory:            int64(cfg.MemLimit),
		MemoryReservation: int64(cfg.MemReservation),
		NanoCPUs:          int64(cfg.CPUS * 1e9),
		CPUShares:         cfg.CPUShares,
		CpusetCpus:        cfg.CPUSet,
	}
	if cfg.PidsLimit != 0 {
		limit := cfg.PidsLimit
		res.PidsLimit = &limit
	}
	if cfg.Deploy != nil && cfg.Deploy.Resources.Limits != nil {
		limits := cfg.Deploy.Resources.Limits
		if limits.MemoryBytes != 0 {
			res.Memory = int64(limits.MemoryBytes)
		}
		if limits.NanoCPUs != 0 {
			res.NanoCPUs = int64(float64(limits.NanoCPUs) * 1e9)
		}
		if limits.Pids != 0 {
			pids := limits.Pids
			res.PidsLimit = &pids
		}
	}
	if cfg.Deploy != nil && cfg.Deploy.Resources.Reservations != nil {
		if mem := cfg.Deploy.Resources.Reservations.MemoryBytes; mem != 0 {
			res.MemoryReservation = int64(mem)
		}
	}
	for name, limit := range cfg.Ulimits {
		soft, hard := int64(limit.Soft), int64(limit.Hard)
		if limit.Single != 0 {
			soft, hard = int64(limit.Single), int64(limit.Single)
		}
		res.Ulimits = append(res.Ulimits, &container.Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	slices.SortFunc(res.Ulimits, func(a, b *container.Ulimit) int { return strings.Compare(a.Name, b.Name) })
	return res
}

func tmpfs(paths []string) map[string]string {
	if len(paths) == 0 {
		return nil
	}
	out := make(map[string]string, len(paths))
	for _, path := range paths {
		target, opts, _ := strings.Cut(path, ":")
		out[target] = opts
	}
	return out
}

func portBindings(ports []types.ServicePortConfig) nat.PortMap {
	if len(ports) == 0 {
		return nil
	}
	bindings := nat.PortMap{}
	for _, p := range ports {
		key := nat.Port(fmt.Sprintf("%d/%s", p.Target, protocol(p.Protocol)))
		bindings[key] = append(bindings[key], nat.PortBinding{HostIP: p.HostIP, HostPort: p.Published})
	}
	return bindings
}

func volumeMounts(p *compose.Project, svc *compose.Service) ([]mount.Mount, error) {
	var mounts []mount.Mount
	for _, v := range svc.Config.Volumes {
		m := mount.Mount{Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeBind:
			m.Type, m.Source = mount.TypeBind, v.Source
			if !filepath.IsAbs(m.Source) {
				m.Source = filepath.Join(p.WorkingDir, m.Source)
			}
		case types.VolumeTypeVolume:
			m.Type, m.Source = mount.TypeVolume, v.Source
			if vol, ok := p.Model.Volumes[v.Source]; ok && vol.Name != "" {
				m.Source = vol.Name
			}
			if v.Volume != nil && v.Volume.NoCopy {
				m.VolumeOptions = &mount.VolumeOptions{NoCopy: true}
			}
		case types.VolumeTypeTmpfs:
			m.Type = mount.TypeTmpfs
			if v.Tmpfs != nil {
				m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size)}
			}
		default:
			return nil, fmt.Errorf("service %q: volume %q has type %q, which clusterctl does not support; use bind, volume or tmpfs",
				svc.Name, v.Target, v.Type)
		}
		mounts = append(mounts, m)
	}
	return mounts, nil
}

// endpoints returns the networks of a service's instances. Without a front
// door the instances carry the service name as an alias, as in Docker
// Compose. With one, the front door carries it, so that clients on the
// project network also go through the front door.
func endpoints(p *compose.Project, svc *compose.Service) map[string]*network.EndpointSettings {
	out := map[string]*network.EndpointSettings{}
	for key, cfg := range ServiceNetworks(svc) {
		endpoint := &network.EndpointSettings{}
		if svc.Proxy == nil && cfg.ServiceNameAliasEnabled() {
			endpoint.Aliases = append(endpoint.Aliases, svc.Name)
		}
		if cfg != nil {
			endpoint.Aliases = append(endpoint.Aliases, cfg.Aliases...)
		}
		out[NetworkName(p, key)] = endpoint
	}
	return out
}

// ServiceNetworks returns the service's networks by their key in the file,
// the default network when it lists none.
func ServiceNetworks(svc *compose.Service) map[string]*types.ServiceNetworkConfig {
	if len(svc.Config.Networks) == 0 {
		return map[string]*types.ServiceNetworkConfig{"default": nil}
	}
	return svc.Config.Networks
}

// NetworkName returns the engine's name of the network with the given key
// in the file: project_key unless the file names it.
func NetworkName(p *compose.Project, key string) string {
	if n, ok := p.Model.Networks[key]; ok && n.Name != "" {
		return n.Name
	}
	return p.Name + "_" + key
}
