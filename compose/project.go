package compose

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Service returns the enabled service called name, pointing into
// p.Services, and whether it exists.
func (p *Project) Service(name string) (*Service, bool) {
	i := sort.Search(len(p.Services), func(i int) bool { return p.Services[i].Name >= name })
	if i < len(p.Services) && p.Services[i].Name == name {
		return &p.Services[i], true
	}
	return nil, false
}

// Select returns the services named on the command line, in the order
// named and without repeats, or every enabled service when names is empty.
// An unknown name, or one of a service whose profile is not enabled,
// returns an error that matches ErrInvalid and lists the known services.
// Select does not add the services that the named ones depend on.
func (p *Project) Select(names []string) ([]Service, error) {
	if len(names) == 0 {
		return slices.Clone(p.Services), nil
	}

	selected := make([]Service, 0, len(names))
	for i, name := range names {
		svc, ok := p.Service(name)
		if !ok {
			return nil, p.unknownService(name)
		}
		if !slices.Contains(names[:i], name) {
			selected = append(selected, *svc)
		}
	}
	return selected, nil
}

func (p *Project) unknownService(name string) error {
	if p.Model != nil {
		if disabled, ok := p.Model.DisabledServices[name]; ok && len(disabled.Profiles) > 0 {
			return &InvalidError{Message: fmt.Sprintf("service %q is not enabled because none of "+
				"its profiles (%s) is; enable it with --profile %s",
				name, strings.Join(disabled.Profiles, ", "), disabled.Profiles[0])}
		}
	}

	known := make([]string, len(p.Services))
	for i, svc := range p.Services {
		known[i] = svc.Name
	}
	if len(known) == 0 {
		return &InvalidError{Message: fmt.Sprintf(
			"no service %q: project %s has no enabled services", name, p.Name)}
	}
	return &InvalidError{Message: fmt.Sprintf("no service %q in project %s; known services are %s",
		name, p.Name, strings.Join(known, ", "))}
}

// SetInstances overrides the instance count of a service, as clusterctl
// scale does. It returns an ErrInvalid error for an unknown service. It
// also returns one, with the same message as Load, for a count above 1 on a
// service with a setting that only one container can hold: container_name,
// hostname, a static address or a fixed host port.
func (p *Project) SetInstances(service string, count InstanceCount) error {
	svc, ok := p.Service(service)
	if !ok {
		return p.unknownService(service)
	}
	changed := *svc
	changed.Instances = count
	if err := checkInstances(p.Name, changed); err != nil {
		var invalid *InvalidError
		if errors.As(err, &invalid) {
			invalid.File = strings.Join(p.ComposeFiles, ", ")
		}
		return err
	}
	svc.Instances = count
	return nil
}
