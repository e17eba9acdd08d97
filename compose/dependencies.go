package compose

import (
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
)

// markOneShots sets OneShot on every service that another enabled service
// depends on with condition service_completed_successfully. Such a service
// runs to completion, so its restart policy defaults to "no", as in Docker
// Compose, where clusterctl's default would restart it after it exits.
func markOneShots(services []Service) error {
	for i := range services {
		dependents := oneShotDependents(services, services[i].Name)
		if len(dependents) == 0 {
			continue
		}
		svc := &services[i]
		svc.OneShot = true
		if err := checkOneShot(*svc, dependents[0]); err != nil {
			return err
		}
		if svc.Config.Restart == "" && (svc.Config.Deploy == nil || svc.Config.Deploy.RestartPolicy == nil) {
			svc.Config.Restart = types.RestartPolicyNo
		}
	}
	return nil
}

// oneShotDependents returns the services that wait for name to complete
// successfully, sorted.
func oneShotDependents(services []Service, name string) []string {
	var dependents []string
	for _, svc := range services {
		dep, ok := svc.Config.DependsOn[name]
		if ok && dep.Condition == types.ServiceConditionCompletedSuccessfully {
			dependents = append(dependents, svc.Name)
		}
	}
	slices.Sort(dependents)
	return dependents
}

// checkOneShot rejects settings that keep a one-shot service from ever
// completing: a restart policy that restarts it after exit code 0, and a
// front door, which would have no instance to send requests to.
func checkOneShot(svc Service, dependent string) error {
	restart := svc.Config.Restart
	path := []string{"services", svc.Name, "restart"}
	if svc.Config.Deploy != nil && svc.Config.Deploy.RestartPolicy != nil {
		restart = svc.Config.Deploy.RestartPolicy.Condition
		if restart == "" || restart == "any" {
			restart = types.RestartPolicyAlways
		}
		path = []string{"services", svc.Name, "deploy", "restart_policy", "condition"}
	}
	if restart == types.RestartPolicyAlways || restart == types.RestartPolicyUnlessStopped {
		return keyError(path, "service %q restarts %s, but service %q depends on it with condition "+
			"service_completed_successfully, which waits for it to exit; remove the restart policy "+
			"or set it to \"no\" or \"on-failure\"", svc.Name, restart, dependent)
	}
	if svc.Proxy != nil {
		return keyError([]string{"services", svc.Name, "ports"}, "service %q runs to completion, "+
			"because service %q depends on it with condition service_completed_successfully, "+
			"so it cannot have a front door; remove its ports, or set x-clusterctl.proxy: false",
			svc.Name, dependent)
	}
	return nil
}

// checkPullPolicy rejects pull policies that pull, because clusterctl never
// pulls an image, and pull_policy: build on a service without a build
// section.
func checkPullPolicy(svc Service) error {
	path := []string{"services", svc.Name, "pull_policy"}
	policy, _, err := svc.Config.GetPullPolicy()
	if err != nil {
		return keyError(path, "%v; use missing, never or build", err)
	}
	switch policy {
	case types.PullPolicyAlways, types.PullPolicyRefresh:
		return keyError(path, "pull_policy %q pulls image %q from a registry, but clusterctl does not "+
			"pull images; set pull_policy to missing or never and load the image with docker load, "+
			"or add a build: section and set pull_policy: build", svc.Config.PullPolicy, svc.Config.Image)
	case types.PullPolicyBuild:
		if svc.Config.Build == nil {
			return keyError(path, "pull_policy: build needs a build: section in service %q; "+
				"add one, or set pull_policy to missing or never", svc.Name)
		}
	}
	return nil
}
