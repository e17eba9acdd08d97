package orchestrator

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/strslice"
	"github.com/docker/go-connections/nat"

	"github.com/clusterctl/clusterctl/compose"
)

// translator turns one compose service into container settings and
// collects a warning for every setting that it does not apply.
type translator struct {
	p        *compose.Project
	svc      *compose.Service
	warnings []string
}

// warn records that the service's key is not applied, or not applied as
// written, and why.
func (tr *translator) warn(key, format string, args ...any) {
	tr.warnings = append(tr.warnings,
		fmt.Sprintf("service %q: %s %s", tr.svc.Name, key, fmt.Sprintf(format, args...)))
}

// invalid returns an error for the service's key that the CLI reports with
// exit code 2, like the errors of compose.Load.
func (tr *translator) invalid(key, format string, args ...any) error {
	return &compose.InvalidError{
		File:    strings.Join(tr.p.ComposeFiles, ", "),
		Key:     "services." + tr.svc.Name + "." + key,
		Message: fmt.Sprintf("services.%s.%s: %s", tr.svc.Name, key, fmt.Sprintf(format, args...)),
	}
}

// withComposeFiles names the project's compose files in an
// *compose.InvalidError that names none.
func withComposeFiles(p *compose.Project, err error) error {
	var invalid *compose.InvalidError
	if errors.As(err, &invalid) && invalid.File == "" {
		invalid.File = strings.Join(p.ComposeFiles, ", ")
	}
	return err
}

// containerConfig returns the create settings of the Config part. Env,
// Hostname and the clusterctl labels differ per instance; Template.Instance
// adds them.
func (tr *translator) containerConfig(imageID string) container.Config {
	cfg := tr.svc.Config
	out := container.Config{
		Image:        imageID,
		Entrypoint:   command(cfg.Entrypoint),
		Cmd:          command(cfg.Command),
		WorkingDir:   cfg.WorkingDir,
		User:         cfg.User,
		Labels:       maps.Clone(map[string]string(cfg.Labels)),
		StopSignal:   cfg.StopSignal,
		StopTimeout:  stopTimeout(cfg.StopGracePeriod),
		Healthcheck:  tr.healthConfig(),
		ExposedPorts: tr.exposedPorts(),
		Tty:          cfg.Tty,
		OpenStdin:    cfg.StdinOpen,
		Domainname:   cfg.DomainName,
		MacAddress:   primaryMACAddress(cfg), //nolint:staticcheck // the endpoint field needs API 1.44
	}
	if cfg.NetworkMode == "disabled" {
		out.NetworkDisabled = true
	}
	return out
}

// command returns a compose command or entrypoint as the engine takes it.
// nil keeps the image's value; an empty list, written [] or "", clears it.
func command(c types.ShellCommand) strslice.StrSlice {
	if c == nil {
		return nil
	}
	return strslice.StrSlice(slices.Clone(c))
}

// stopTimeout returns stop_grace_period in whole seconds, rounded up, as the
// engine takes it.
func stopTimeout(grace *types.Duration) *int {
	if grace == nil {
		return nil
	}
	seconds := int((time.Duration(*grace) + time.Second - 1) / time.Second)
	return &seconds
}

// healthConfig translates the healthcheck. disable: true turns the image's
// healthcheck off. start_interval needs API 1.44, which the engine's API
// 1.41 lacks, so it is left out with a warning.
func (tr *translator) healthConfig() *container.HealthConfig {
	hc := tr.svc.Config.HealthCheck
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
	if hc.StartInterval != nil {
		tr.warn("healthcheck.start_interval", "is not applied, because Docker API 1.41 has no start "+
			"interval; checks run every interval from the start")
	}
	return out
}

// exposedPorts lists the container ports the service declares in ports and
// expose, so that the image metadata and docker ps show them. A range in
// expose, such as "3000-3002", lists each port.
func (tr *translator) exposedPorts() nat.PortSet {
	ports := nat.PortSet{}
	for _, p := range tr.svc.Config.Ports {
		ports[nat.Port(fmt.Sprintf("%d/%s", p.Target, protocol(p.Protocol)))] = struct{}{}
	}
	for _, e := range tr.svc.Config.Expose {
		spec, proto, _ := strings.Cut(e, "/")
		low, high, err := nat.ParsePortRangeToInt(spec)
		if err != nil {
			tr.warn("expose", "entry %q is not applied: it is not a port or a port range such as 3000-3002", e)
			continue
		}
		for port := low; port <= high; port++ {
			ports[nat.Port(fmt.Sprintf("%d/%s", port, protocol(proto)))] = struct{}{}
		}
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

// primaryMACAddress returns the MAC address of the instance on its primary
// network: the service-level mac_address, else that of the network it is
// created on. API 1.41 takes it in the container's Config only;
// createContainer moves it to the endpoint on API 1.44 and later.
func primaryMACAddress(cfg types.ServiceConfig) string {
	if cfg.MacAddress != "" {
		return cfg.MacAddress
	}
	if names := cfg.NetworksByPriority(); len(names) > 0 {
		if primary := cfg.Networks[names[0]]; primary != nil {
			return primary.MacAddress
		}
	}
	return ""
}
