package compose

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"golang.org/x/sys/unix"

	"github.com/clusterctl/clusterctl/internal/prose"
)

// checkServiceSettings rejects service settings that clusterctl cannot apply
// as written, where a warning would leave the container without a setting
// that the file requests.
func checkServiceSettings(model *types.Project, svc Service) error {
	checks := []func() error{
		func() error { return checkRestart(svc) },
		func() error { return checkStopSignal(svc) },
		func() error { return checkUpdateConfigs(svc) },
		func() error { return checkNetworkMode(svc) },
		func() error { return checkProvider(svc) },
		func() error { return checkMountOptions(svc) },
		func() error { return checkSecrets(model, svc) },
		func() error { return checkConfigs(model, svc) },
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// checkRestart accepts the restart values that the engine accepts: no,
// always, unless-stopped, on-failure and on-failure:N.
func checkRestart(svc Service) error {
	restart := svc.Config.Restart
	path := []string{"services", svc.Name, "restart"}
	name, retries, hasRetries := strings.Cut(restart, ":")
	switch {
	case restart == "":
		return nil
	case hasRetries && (name == "always" || name == "unless-stopped"):
		return keyError(path, "restart %q sets a retry count, which Docker accepts only with "+
			"on-failure; write restart: %s, or restart: on-failure:%s", restart, name, retries)
	case hasRetries && name == "on-failure":
		if n, err := strconv.Atoi(retries); err != nil || n < 0 {
			return keyError(path, "restart %q has an invalid retry count; write on-failure:N "+
				"with N a whole number such as on-failure:3", restart)
		}
		return nil
	case !hasRetries && slices.Contains([]string{"no", "always", "on-failure", "unless-stopped"}, name):
		return nil
	}
	return keyError(path, "restart %q is not a restart policy; use no, always, on-failure, "+
		"on-failure:N or unless-stopped", restart)
}

// rtSignal matches the real-time signal names that the engine accepts,
// such as SIGRTMIN+3.
var rtSignal = regexp.MustCompile(`^SIGRTM(IN|AX)([+-][0-9]+)?$`)

// checkStopSignal accepts a signal name, with or without the SIG prefix, as
// the engine does, or a number of a Linux signal, from 1 to 64.
func checkStopSignal(svc Service) error {
	raw := svc.Config.StopSignal
	if raw == "" {
		return nil
	}
	if n, err := strconv.Atoi(raw); err == nil {
		if n > 0 && n <= 64 {
			return nil
		}
	} else {
		name := "SIG" + strings.TrimPrefix(strings.ToUpper(raw), "SIG")
		if unix.SignalNum(name) != 0 || rtSignal.MatchString(name) {
			return nil
		}
	}
	return keyError([]string{"services", svc.Name, "stop_signal"}, "stop_signal %q is not a signal; "+
		"use a name such as SIGTERM, SIGINT or SIGQUIT, or a number from 1 to 64", raw)
}

// checkUpdateConfigs checks update_config and rollback_config: a
// failure_action that rollouts know, delays and monitor periods of 0s or
// more, and a max_failure_ratio from 0 to 1. The compose schema checks order.
func checkUpdateConfigs(svc Service) error {
	deploy := svc.Config.Deploy
	if deploy == nil {
		return nil
	}
	configs := []struct {
		key     string
		cfg     *types.UpdateConfig
		actions []string
	}{
		{"update_config", deploy.UpdateConfig, []string{"rollback", "pause", "continue"}},
		{"rollback_config", deploy.RollbackConfig, []string{"pause", "continue"}},
	}
	for _, c := range configs {
		if c.cfg == nil {
			continue
		}
		path := []string{"services", svc.Name, "deploy", c.key}
		if action := c.cfg.FailureAction; action != "" && !slices.Contains(c.actions, action) {
			return keyError(append(path, "failure_action"), "failure_action %q is not valid in %s; use %s",
				action, c.key, prose.JoinWords(c.actions, "or"))
		}
		if d := c.cfg.Delay; d < 0 {
			return keyError(append(path, "delay"), "delay %s is negative; use 0s or more", time.Duration(d))
		}
		if d := c.cfg.Monitor; d < 0 {
			return keyError(append(path, "monitor"), "monitor %s is negative; use 0s or more", time.Duration(d))
		}
		if r := c.cfg.MaxFailureRatio; r < 0 || r > 1 {
			return keyError(append(path, "max_failure_ratio"), "max_failure_ratio %g is out of range; "+
				"use a fraction from 0 to 1, such as 0.25", r)
		}
	}
	return nil
}

// checkNetworkMode rejects network_mode on a service that needs the
// instances on the project's networks: the front door and the ready probe
// reach each instance by its address there.
func checkNetworkMode(svc Service) error {
	mode := svc.Config.NetworkMode
	path := []string{"services", svc.Name, "network_mode"}
	switch {
	case mode == "":
		return nil
	case svc.Proxy != nil:
		return keyError(path, "network_mode %q cannot be used with a front door, which reaches "+
			"each instance on the project's networks; set x-clusterctl.proxy: false to publish "+
			"the ports on the instances, or remove network_mode", mode)
	case svc.Ready != nil:
		return keyError(path, "network_mode %q cannot be used with x-clusterctl.ready, whose probe "+
			"reaches each instance on the project's networks; use a healthcheck instead, "+
			"or remove network_mode", mode)
	}
	return nil
}

func checkProvider(svc Service) error {
	if svc.Config.Provider == nil {
		return nil
	}
	return keyError([]string{"services", svc.Name, "provider"},
		"provider services are run by a Docker Compose plugin, not as containers, and clusterctl "+
			"runs containers only; start this service with docker compose, or replace it with "+
			"an image")
}

// mountPropagations are the bind propagation modes of the Docker API.
var mountPropagations = []string{"private", "rprivate", "shared", "rshared", "slave", "rslave"}

// checkMountOptions checks the long-syntax options of the service's volumes
// that the engine would reject or that compose-go leaves unchecked.
func checkMountOptions(svc Service) error {
	for i, v := range svc.Config.Volumes {
		path := []string{"services", svc.Name, "volumes", strconv.Itoa(i)}
		if v.Bind != nil && v.Bind.Propagation != "" && !slices.Contains(mountPropagations, v.Bind.Propagation) {
			return keyError(append(path, "bind", "propagation"),
				"volume %s: bind propagation %q is not valid; use %s",
				v.Target, v.Bind.Propagation, prose.JoinWords(mountPropagations, "or"))
		}
		consistency := []string{"default", "consistent", "cached", "delegated"}
		if v.Consistency != "" && !slices.Contains(consistency, v.Consistency) {
			return keyError(append(path, "consistency"),
				"volume %s: consistency %q is not valid; use %s",
				v.Target, v.Consistency, prose.JoinWords(consistency, "or"))
		}
	}
	return nil
}

// checkSecrets rejects secrets that only Docker Swarm provides, and an
// environment: source whose variable is not set.
func checkSecrets(model *types.Project, svc Service) error {
	for _, ref := range svc.Config.Secrets {
		def := model.Secrets[ref.Source]
		path := []string{"services", svc.Name, "secrets"}
		if err := checkFileObject("secret", ref.Source, types.FileObjectConfig(def), path, model.Environment); err != nil {
			return err
		}
	}
	return nil
}

// checkConfigs rejects configs that only Docker Swarm provides, and an
// environment: source whose variable is not set.
func checkConfigs(model *types.Project, svc Service) error {
	for _, ref := range svc.Config.Configs {
		def := model.Configs[ref.Source]
		path := []string{"services", svc.Name, "configs"}
		if err := checkFileObject("config", ref.Source, types.FileObjectConfig(def), path, model.Environment); err != nil {
			return err
		}
	}
	return nil
}

// checkFileObject checks a secret or config definition. environment is the
// project's environment, from which environment: sources take their value.
func checkFileObject(kind, name string, def types.FileObjectConfig, path []string, environment types.Mapping) error {
	switch {
	case bool(def.External):
		return keyError(path, "%s %q is external, which only Docker Swarm provides; define it "+
			"with file: in the top-level %ss section", kind, name, kind)
	case def.Driver != "" || def.TemplateDriver != "":
		return keyError(path, "%s %q sets driver or template_driver, which only Docker Swarm "+
			"supports; remove them and define the %s with file:", kind, name, kind)
	case def.Environment != "":
		if _, ok := environment[def.Environment]; !ok {
			return keyError(path, "%s %q takes its value from the environment variable %s, which is "+
				"not set; set it in the environment or in the .env file of the project directory",
				kind, name, def.Environment)
		}
	}
	return nil
}
