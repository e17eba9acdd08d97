package orchestrator

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
)

// secretKey matches variable names whose values describe masks, such as
// API_TOKEN, DB_PASS, GPG_PASSPHRASE, AWS_SECRET_ACCESS_KEY, SENTRY_DSN,
// OTEL_EXPORTER_OTLP_HEADERS or GITHUB_PAT. It errs on the side of
// masking, so BYPASS and COMPASS are masked too. PAT, JWT and BEARER count
// only as whole words between underscores, which leaves PATH alone.
var secretKey = regexp.MustCompile(`(?i)(secret|token|pass|pwd|key|credential|auth|private|cert|cookie|session|headers|dsn` +
	`|(^|_)(pat|jwt|bearer)(_|$))`)

// maskedValue replaces the value of a secret-looking variable.
const maskedValue = "********"

// MaskEnv returns KEY=VALUE pairs with the values of secret-looking keys
// replaced by asterisks, and the password of a URL in any other value, as
// in DATABASE_URL=postgres://app:********@db/app.
func MaskEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		key, value, _ := strings.Cut(kv, "=")
		if secretKey.MatchString(key) {
			value = maskedValue
		}
		out = append(out, key+"="+maskURLPassword(value))
	}
	return out
}

// MaskArgs returns a command line with the values of secret-looking
// options masked: --password=x, --token x, --api-key=x and a URL's
// password. The argument after a secret-looking option without "=" is
// taken as its value unless it starts with "-", so a boolean option such
// as --auth hides the argument that follows it.
func MaskArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i, arg := range args {
		name, value, ok := strings.Cut(arg, "=")
		switch {
		case !ok && i > 0 && isSecretOption(args[i-1]) && !strings.HasPrefix(arg, "-"):
			arg = maskedValue
		case !ok || !strings.HasPrefix(name, "-"):
			arg = maskURLPassword(arg)
		case secretKey.MatchString(name):
			arg = name + "=" + maskedValue
		default:
			arg = name + "=" + maskURLPassword(value)
		}
		out = append(out, arg)
	}
	return out
}

// isSecretOption reports whether arg is an option without an inline
// value whose name looks secret, such as --token.
func isSecretOption(arg string) bool {
	return strings.HasPrefix(arg, "-") && !strings.Contains(arg, "=") && secretKey.MatchString(arg)
}

// maskURLPassword masks the password of a value that is a URL with
// credentials, and returns any other value unchanged.
func maskURLPassword(value string) string {
	if !strings.Contains(value, "://") || !strings.Contains(value, "@") {
		return value
	}
	u, err := url.Parse(value)
	if err != nil || u.User == nil {
		return value
	}
	if _, set := u.User.Password(); !set {
		return value
	}
	// url.URL.String would percent-encode the asterisks.
	userinfo := u.User.String()
	masked := u.User.Username() + ":" + maskedValue
	return strings.Replace(value, userinfo+"@", masked+"@", 1)
}

// InstanceDescription is the describe view of one instance.
type InstanceDescription struct {
	InstanceStatus
	InstanceID string    `json:"instance_id"`
	Created    time.Time `json:"created"`
	FinishedAt string    `json:"finished_at,omitempty"`
	// LastReason is the cause of the latest run's end: "OOMKilled", the
	// engine's error, or "exited with code N".
	LastReason  string   `json:"last_exit_reason,omitempty"`
	MemoryLimit int64    `json:"memory_limit,omitempty"`
	Environment []string `json:"environment"`
	Logs        []string `json:"last_logs"`
}

// ServiceDescription is the describe view of one service, or of one of its
// instances.
type ServiceDescription struct {
	Service string `json:"service"`
	// Revision is the revision most instances run, and Revisions counts
	// the instances per revision, which differ during a rollout.
	Revision  string         `json:"revision"`
	Revisions map[string]int `json:"revisions"`
	Image     string         `json:"image"`
	// Configuration is the resolved configuration of the instances of
	// Revision, as the engine runs it.
	Configuration  *Configuration        `json:"configuration,omitempty"`
	FrontDoor      string                `json:"front_door,omitempty"`
	FrontDoorPorts []string              `json:"front_door_ports,omitempty"`
	Instances      []InstanceDescription `json:"instances"`
}

// Configuration is the settings of an instance as the engine resolved
// them, image defaults included. Secret-looking option values and URL
// passwords in commands are masked.
type Configuration struct {
	ImageID    string   `json:"image_id"`
	Entrypoint []string `json:"entrypoint,omitempty"`
	Command    []string `json:"command,omitempty"`
	User       string   `json:"user,omitempty"`
	WorkingDir string   `json:"working_dir,omitempty"`
	Restart    string   `json:"restart_policy"`
	// MinUptime is the run time below which an exit is unstable:
	// x-clusterctl.min_uptime, or 1s when the file does not set it.
	MinUptime   string   `json:"min_uptime"`
	StopSignal  string   `json:"stop_signal"`
	StopGrace   string   `json:"stop_grace_period"`
	Healthcheck string   `json:"healthcheck,omitempty"`
	CPUs        float64  `json:"cpus,omitempty"`
	PidsLimit   int64    `json:"pids_limit,omitempty"`
	Networks    []string `json:"networks"`
	Mounts      []string `json:"mounts,omitempty"`
	ReadOnly    bool     `json:"read_only,omitempty"`
	// Labels are the container's labels without clusterctl's own.
	Labels map[string]string `json:"labels,omitempty"`
}

// Describe returns the running state of a service, or of one instance when
// target is service.slot or a container name: the resolved configuration,
// revisions, each instance's state, restarts, last exit, environment and
// last log lines. Values of secret-looking variables are masked.
func (o *Orchestrator) Describe(ctx context.Context, project, target string) (*ServiceDescription, error) {
	observed, err := o.observe(ctx, project)
	if err != nil {
		return nil, err
	}
	desc := &ServiceDescription{Revisions: map[string]int{}}
	var door *ObservedContainer
	var matched []ObservedContainer
	for _, c := range observed {
		if !describes(c, target) {
			continue
		}
		desc.Service = c.Service
		switch c.Role {
		case RoleFrontDoor:
			door = &c
		case RoleInstance:
			matched = append(matched, c)
		}
	}
	instances, err := o.superviseAll(ctx, project, matched)
	if err != nil {
		return nil, err
	}
	for _, supervised := range instances {
		inst := o.describeInstance(ctx, project, supervised)
		desc.Instances = append(desc.Instances, inst)
		desc.Revisions[inst.Revision]++
	}
	if len(desc.Instances) == 0 {
		return nil, fmt.Errorf("no instance of project %q matches %q; give a service name, service.slot or a container name from clusterctl ps",
			project, target)
	}
	slices.SortFunc(desc.Instances, func(a, b InstanceDescription) int {
		return cmp.Or(a.Slot-b.Slot, a.Created.Compare(b.Created))
	})
	desc.Revision = mostCommon(desc.Revisions)
	for _, inst := range desc.Instances {
		if inst.Revision == desc.Revision {
			desc.Image = inst.Image
			info, err := o.Engine.ContainerInspect(ctx, inst.ID)
			if err != nil {
				return nil, fmt.Errorf("inspect %s: %w", inst.Name, err)
			}
			desc.Configuration = configurationOf(info)
			break
		}
	}
	if door != nil {
		desc.FrontDoor = door.Name
		desc.FrontDoorPorts = o.frontDoorPorts(ctx, door.ID)
	}
	return desc, nil
}

// mostCommon returns the key with the highest count, the smallest key on
// a tie.
func mostCommon(counts map[string]int) string {
	best := ""
	for _, key := range slices.Sorted(maps.Keys(counts)) {
		if best == "" || counts[key] > counts[best] {
			best = key
		}
	}
	return best
}

// configurationOf summarizes an instance's inspect result.
func configurationOf(info container.InspectResponse) *Configuration {
	cfg := &Configuration{ImageID: info.Image, StopSignal: "SIGTERM", StopGrace: "10s"}
	if info.Config != nil {
		cfg.Entrypoint = MaskArgs(info.Config.Entrypoint)
		cfg.Command = MaskArgs(info.Config.Cmd)
		cfg.User, cfg.WorkingDir = info.Config.User, info.Config.WorkingDir
		cfg.StopSignal = cmp.Or(info.Config.StopSignal, cfg.StopSignal)
		if info.Config.StopTimeout != nil {
			cfg.StopGrace = (time.Duration(*info.Config.StopTimeout) * time.Second).String()
		}
		cfg.Healthcheck = describeHealthcheck(info.Config.Healthcheck)
		for key, value := range info.Config.Labels {
			if !strings.HasPrefix(key, "io.clusterctl.") {
				if cfg.Labels == nil {
					cfg.Labels = map[string]string{}
				}
				cfg.Labels[key] = value
			}
		}
	}
	if host := info.HostConfig; host != nil {
		cfg.Restart = string(host.RestartPolicy.Name)
		if host.RestartPolicy.MaximumRetryCount > 0 {
			cfg.Restart += ":" + strconv.Itoa(host.RestartPolicy.MaximumRetryCount)
		}
		cfg.CPUs = float64(host.NanoCPUs) / 1e9
		if host.PidsLimit != nil {
			cfg.PidsLimit = *host.PidsLimit
		}
		cfg.ReadOnly = host.ReadonlyRootfs
		cfg.MinUptime = policyOf(info).MinUptime.String()
		for _, m := range host.Mounts {
			cfg.Mounts = append(cfg.Mounts, fmt.Sprintf("%s %s -> %s", m.Type, cmp.Or(m.Source, "(anonymous)"), m.Target))
		}
	}
	if info.NetworkSettings != nil {
		cfg.Networks = slices.Sorted(maps.Keys(info.NetworkSettings.Networks))
	}
	return cfg
}

// describeHealthcheck renders a healthcheck as one line, or "" when the
// instance has none.
func describeHealthcheck(h *container.HealthConfig) string {
	if !hasHealthcheck(h) {
		return ""
	}
	line := strings.Join(MaskArgs(h.Test), " ")
	if h.Interval > 0 {
		line += ", every " + h.Interval.String()
	}
	if h.Timeout > 0 {
		line += ", timeout " + h.Timeout.String()
	}
	if h.Retries > 0 {
		line += ", " + strconv.Itoa(h.Retries) + " retries"
	}
	if h.StartPeriod > 0 {
		line += ", start period " + h.StartPeriod.String()
	}
	return line
}

// frontDoorPorts returns the host addresses a front door publishes, as
// "127.0.0.1:8080->8080/tcp". It returns nil when the inspect fails,
// because the ports only add to a description.
func (o *Orchestrator) frontDoorPorts(ctx context.Context, id string) []string {
	info, err := o.Engine.ContainerInspect(ctx, id)
	if err != nil || info.HostConfig == nil {
		return nil
	}
	var ports []string
	for port, bindings := range info.HostConfig.PortBindings {
		for _, b := range bindings {
			host := b.HostPort
			if b.HostIP != "" {
				host = b.HostIP + ":" + host
			}
			ports = append(ports, host+"->"+string(port))
		}
	}
	slices.Sort(ports)
	return ports
}

func describes(c ObservedContainer, target string) bool {
	if c.Role == RoleFrontDoor {
		return c.Service == target
	}
	return c.Service == target || c.Name == target || c.Service+"."+strconv.Itoa(c.Slot) == target
}

func (o *Orchestrator) describeInstance(ctx context.Context, project string, inst supervisedInstance) InstanceDescription {
	info, sup := inst.Info, inst.Supervision
	desc := InstanceDescription{
		InstanceStatus: inst.status(project),
		InstanceID:     info.Config.Labels[LabelInstanceID],
		Environment:    MaskEnv(info.Config.Env),
		Logs:           o.lastLogs(ctx, inst.ID, logTail),
	}
	desc.Created, _ = time.Parse(time.RFC3339Nano, info.Created)
	if finished := parseTime(info.State.FinishedAt); !finished.IsZero() {
		desc.FinishedAt = info.State.FinishedAt
	}
	if info.HostConfig != nil {
		desc.MemoryLimit = info.HostConfig.Memory
	}
	switch {
	case sup.LastExit != nil && sup.LastExit.OOMKilled, sup.EarlierOOMKill:
		desc.LastReason = "OOMKilled"
	case info.State.Error != "":
		desc.LastReason = info.State.Error
	case sup.LastExit != nil:
		desc.LastReason = fmt.Sprintf("exited with code %d", sup.LastExit.ExitCode)
	case info.RestartCount > 0:
		desc.LastReason = "exited; the engine's events no longer record how"
	}
	return desc
}
