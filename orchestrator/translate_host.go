package orchestrator

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/blkiodev"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/strslice"
)

// hostConfig returns the HostConfig of the service's instances, as Docker
// Compose builds it. NetworkMode is set only for network_mode; otherwise
// createContainer sets it to the instance's first network.
func (tr *translator) hostConfig() (container.HostConfig, error) {
	cfg := tr.svc.Config
	host := container.HostConfig{
		RestartPolicy:  tr.restartPolicy(),
		CapAdd:         strslice.StrSlice(cfg.CapAdd),
		CapDrop:        strslice.StrSlice(cfg.CapDrop),
		ReadonlyRootfs: cfg.ReadOnly,
		Privileged:     cfg.Privileged,
		Init:           cfg.Init,
		ExtraHosts:     extraHosts(cfg.ExtraHosts),
		DNS:            cfg.DNS,
		DNSSearch:      cfg.DNSSearch,
		DNSOptions:     cfg.DNSOpts,
		Sysctls:        map[string]string(cfg.Sysctls),
		ShmSize:        int64(cfg.ShmSize),
		Resources:      tr.resources(),
		Tmpfs:          tmpfs(cfg.Tmpfs),
		GroupAdd:       cfg.GroupAdd,
		OomScoreAdj:    int(cfg.OomScoreAdj),
		IpcMode:        container.IpcMode(cfg.Ipc),
		PidMode:        container.PidMode(cfg.Pid),
		UTSMode:        container.UTSMode(cfg.Uts),
		CgroupnsMode:   container.CgroupnsMode(cfg.Cgroup),
		UsernsMode:     container.UsernsMode(cfg.UserNSMode),
		Isolation:      container.Isolation(cfg.Isolation),
		Runtime:        cfg.Runtime,
		StorageOpt:     cfg.StorageOpt,
		VolumesFrom:    cfg.VolumesFrom,
		NetworkMode:    container.NetworkMode(cfg.NetworkMode),
	}
	if len(cfg.Annotations) > 0 {
		host.Annotations = map[string]string(cfg.Annotations)
		tr.warn("annotations", "needs Docker API 1.43 or later; older engines ignore it")
	}
	if tr.svc.Proxy == nil {
		host.PortBindings = portBindings(cfg.Ports)
	}
	if cfg.Logging != nil {
		host.LogConfig = container.LogConfig{Type: cfg.Logging.Driver, Config: cfg.Logging.Options}
	}
	if err := tr.securityOptions(&host); err != nil {
		return host, err
	}
	if err := tr.storage(&host); err != nil {
		return host, err
	}
	return host, nil
}

// extraHosts returns extra_hosts as host:address entries, sorted so that
// the revision does not depend on map order. host-gateway stays as written:
// the engine resolves it to the host's gateway address. The list is empty,
// not nil, without extra_hosts, which keeps the revisions of earlier
// versions.
func extraHosts(hosts types.HostsList) []string {
	list := hosts.AsList(":")
	slices.Sort(list)
	return list
}

// securityOptions sets security_opt as Docker Compose does: a seccomp
// profile file is read and passed inline, because the engine takes the
// profile's JSON and not a path, and systempaths=unconfined unmasks /proc
// and /sys.
func (tr *translator) securityOptions(host *container.HostConfig) error {
	for _, opt := range tr.svc.Config.SecurityOpt {
		if opt == "systempaths=unconfined" {
			host.MaskedPaths, host.ReadonlyPaths = []string{}, []string{}
			continue
		}
		name, value, ok := strings.Cut(opt, "=")
		if !ok {
			name, value, ok = strings.Cut(opt, ":")
		}
		if !ok || name != "seccomp" || value == "unconfined" || value == "builtin" {
			host.SecurityOpt = append(host.SecurityOpt, opt)
			continue
		}
		profile, err := tr.seccompProfile(value)
		if err != nil {
			return err
		}
		host.SecurityOpt = append(host.SecurityOpt, "seccomp="+profile)
	}
	return nil
}

func (tr *translator) seccompProfile(file string) (string, error) {
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(tr.p.WorkingDir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", tr.invalid("security_opt", "cannot read the seccomp profile %s: %v; "+
			"fix the path, relative to the project directory", file, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return "", tr.invalid("security_opt", "the seccomp profile %s is not valid JSON: %v", file, err)
	}
	return compact.String(), nil
}

// restartPolicy maps restart and deploy.restart_policy to the engine's
// policy as Docker Compose does, deploy.restart_policy winning. Without
// either, instances restart unless stopped (DefaultRestartPolicy).
func (tr *translator) restartPolicy() container.RestartPolicy {
	cfg := tr.svc.Config
	if cfg.Deploy != nil && cfg.Deploy.RestartPolicy != nil {
		return tr.deployRestartPolicy(cfg.Deploy.RestartPolicy)
	}
	name, retries, _ := strings.Cut(cfg.Restart, ":")
	if name == "" {
		return container.RestartPolicy{Name: DefaultRestartPolicy}
	}
	policy := container.RestartPolicy{Name: restartMode(name)}
	if n, err := strconv.Atoi(retries); err == nil {
		policy.MaximumRetryCount = n
	}
	return policy
}

func (tr *translator) deployRestartPolicy(rp *types.RestartPolicy) container.RestartPolicy {
	policy := container.RestartPolicy{Name: restartMode(rp.Condition)}
	if rp.Condition == "" {
		policy.Name = container.RestartPolicyAlways
	}
	if rp.MaxAttempts != nil && policy.Name == container.RestartPolicyOnFailure {
		policy.MaximumRetryCount = int(*rp.MaxAttempts)
	} else if rp.MaxAttempts != nil {
		tr.warn("deploy.restart_policy.max_attempts", "is not applied: Docker takes a retry count "+
			"only with condition: on-failure and rejects it with %s", policy.Name)
	}
	if rp.Delay != nil {
		tr.warn("deploy.restart_policy.delay", "is not applied: the engine restarts a container "+
			"with its own back-off, starting at 100ms and doubling")
	}
	if rp.Window != nil {
		tr.warn("deploy.restart_policy.window", "is not applied: the engine has no restart window")
	}
	return policy
}

// restartMode maps restart and deploy.restart_policy.condition names to the
// engine's restart policy names.
func restartMode(name string) container.RestartPolicyMode {
	switch name {
	case "no", "none":
		return container.RestartPolicyDisabled
	case "any", "always":
		return container.RestartPolicyAlways
	case "on-failure":
		return container.RestartPolicyOnFailure
	case "unless-stopped":
		return container.RestartPolicyUnlessStopped
	default:
		return container.RestartPolicyMode(name)
	}
}

// resources returns the cgroup settings: the service-level keys, then
// deploy.resources.limits and reservations over them, as Docker Compose
// applies them.
func (tr *translator) resources() container.Resources {
	cfg := tr.svc.Config
	res := container.Resources{
		CgroupParent:       cfg.CgroupParent,
		Memory:             int64(cfg.MemLimit),
		MemorySwap:         int64(cfg.MemSwapLimit),
		MemoryReservation:  int64(cfg.MemReservation),
		NanoCPUs:           int64(cfg.CPUS * 1e9),
		CPUShares:          cfg.CPUShares,
		CPUPeriod:          cfg.CPUPeriod,
		CPUQuota:           cfg.CPUQuota,
		CPURealtimePeriod:  cfg.CPURTPeriod,
		CPURealtimeRuntime: cfg.CPURTRuntime,
		CPUCount:           cfg.CPUCount,
		CPUPercent:         int64(cfg.CPUPercent * 100),
		CpusetCpus:         cfg.CPUSet,
		DeviceCgroupRules:  cfg.DeviceCgroupRules,
		Ulimits:            ulimits(cfg.Ulimits),
	}
	if cfg.MemSwappiness != 0 {
		swappiness := int64(cfg.MemSwappiness)
		res.MemorySwappiness = &swappiness
	}
	if cfg.OomKillDisable {
		disable := true
		res.OomKillDisable = &disable
	}
	if cfg.PidsLimit != 0 {
		limit := cfg.PidsLimit
		res.PidsLimit = &limit
	}
	blkio(cfg.BlkioConfig, &res)
	if cfg.Deploy != nil {
		limits(cfg.Deploy.Resources.Limits, &res)
		tr.reservations(cfg.Deploy.Resources.Reservations, &res)
	}
	devices(cfg, &res)
	return res
}

func limits(limits *types.Resource, res *container.Resources) {
	if limits == nil {
		return
	}
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

// reservations applies the memory reservation and device requests. A CPU
// reservation is a Swarm scheduling hint with no engine setting.
func (tr *translator) reservations(reservations *types.Resource, res *container.Resources) {
	if reservations == nil {
		return
	}
	if reservations.MemoryBytes != 0 {
		res.MemoryReservation = int64(reservations.MemoryBytes)
	}
	for _, d := range reservations.Devices {
		res.DeviceRequests = append(res.DeviceRequests, container.DeviceRequest{
			Driver: d.Driver, Count: int(d.Count), DeviceIDs: d.IDs,
			Capabilities: [][]string{d.Capabilities}, Options: d.Options,
		})
	}
	if reservations.NanoCPUs != 0 {
		tr.warn("deploy.resources.reservations.cpus", "is not applied: a CPU reservation is a "+
			"Docker Swarm scheduling setting with no engine equivalent; use cpu_shares to weight "+
			"CPU time, or limits.cpus to cap it")
	}
	if len(reservations.GenericResources) > 0 {
		tr.warn("deploy.resources.reservations.generic_resources", "is not applied: generic "+
			"resources are a Docker Swarm feature")
	}
}

// cdiName matches a fully qualified CDI device name, vendor.com/class=name.
var cdiName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9.-]*/[a-zA-Z0-9][a-zA-Z0-9_.-]*=.+$`)

// devices maps devices and gpus. A device written as a CDI name becomes a
// request to the cdi driver, as in Docker Compose.
func devices(cfg types.ServiceConfig, res *container.Resources) {
	var cdi []string
	for _, d := range cfg.Devices {
		if d.Source == d.Target && cdiName.MatchString(d.Source) {
			cdi = append(cdi, d.Source)
			continue
		}
		res.Devices = append(res.Devices, container.DeviceMapping{
			PathOnHost: d.Source, PathInContainer: d.Target, CgroupPermissions: d.Permissions,
		})
	}
	if len(cdi) > 0 {
		res.DeviceRequests = append(res.DeviceRequests, container.DeviceRequest{Driver: "cdi", DeviceIDs: cdi})
	}
	for _, gpu := range cfg.Gpus {
		res.DeviceRequests = append(res.DeviceRequests, container.DeviceRequest{
			Driver: gpu.Driver, Count: int(gpu.Count), DeviceIDs: gpu.IDs,
			Capabilities: [][]string{append(slices.Clone(gpu.Capabilities), "gpu")}, Options: gpu.Options,
		})
	}
}

// ulimits returns the ulimits sorted by name. A single value sets both the
// soft and the hard limit.
func ulimits(limits map[string]*types.UlimitsConfig) []*container.Ulimit {
	var out []*container.Ulimit
	for name, limit := range limits {
		if limit == nil {
			continue
		}
		soft, hard := int64(limit.Soft), int64(limit.Hard)
		if limit.Single != 0 {
			soft, hard = int64(limit.Single), int64(limit.Single)
		}
		out = append(out, &container.Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	slices.SortFunc(out, func(a, b *container.Ulimit) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func blkio(cfg *types.BlkioConfig, res *container.Resources) {
	if cfg == nil {
		return
	}
	res.BlkioWeight = cfg.Weight
	for _, d := range cfg.WeightDevice {
		res.BlkioWeightDevice = append(res.BlkioWeightDevice, &blkiodev.WeightDevice{Path: d.Path, Weight: d.Weight})
	}
	throttle := func(devices []types.ThrottleDevice) []*blkiodev.ThrottleDevice {
		var out []*blkiodev.ThrottleDevice
		for _, d := range devices {
			out = append(out, &blkiodev.ThrottleDevice{Path: d.Path, Rate: uint64(d.Rate)})
		}
		return out
	}
	res.BlkioDeviceReadBps = throttle(cfg.DeviceReadBps)
	res.BlkioDeviceReadIOps = throttle(cfg.DeviceReadIOps)
	res.BlkioDeviceWriteBps = throttle(cfg.DeviceWriteBps)
	res.BlkioDeviceWriteIOps = throttle(cfg.DeviceWriteIOps)
}
