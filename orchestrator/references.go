package orchestrator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/clusterctl/clusterctl/compose"
)

// servicePrefix marks a reference to another service of the project in
// network_mode, ipc and pid, as in "service:db".
const servicePrefix = "service:"

// createInstanceContainer creates the container of one instance, after
// resolving the spec's references to other services into containers of
// those services, and copies its injected secrets and configs into it. A
// container whose copy fails is removed again. noStart is up --no-start,
// whose references may name containers that were created and not started.
func (o *Orchestrator) createInstanceContainer(ctx context.Context, p *compose.Project, spec InstanceSpec, noStart bool) (string, error) {
	if err := o.resolveReferences(ctx, p.Name, &spec, noStart); err != nil {
		return "", err
	}
	id, err := o.createContainer(ctx, spec.Name, spec.Config, spec.Host, spec.Network, spec.Endpoint,
		spec.ExtraNetwork, spec.Platform)
	if err != nil {
		return "", err
	}
	if err := o.injectFiles(ctx, p, id, spec.Files); err != nil {
		return "", errors.Join(fmt.Errorf("create %s: %w", spec.Name, err),
			o.Engine.ContainerRemove(context.WithoutCancel(ctx), id, discardForce))
	}
	return id, nil
}

// resolveReferences replaces "service:NAME" in network_mode, ipc and pid
// with "container:ID" of a running instance of that service, as Docker
// Compose does when it creates a container. A service name in volumes_from
// becomes such a container's ID, and a link to a service becomes
// "CONTAINER:ALIAS", naming the service's front door when it has one. The
// engine fixes the reference at create, so a replaced instance of the other
// service does not move this one. With noStart, a reference to a service
// without a running instance names one that was created and never started,
// as docker compose up --no-start does. The next up starts it first.
func (o *Orchestrator) resolveReferences(ctx context.Context, project string, spec *InstanceSpec, noStart bool) error {
	host := spec.Host
	modes := []*string{(*string)(&host.NetworkMode), (*string)(&host.IpcMode), (*string)(&host.PidMode)}
	keys := []string{"network_mode", "ipc", "pid"}
	for i, mode := range modes {
		service, ok := strings.CutPrefix(*mode, servicePrefix)
		if !ok {
			continue
		}
		c, err := o.serviceContainer(ctx, project, service, false, noStart)
		if err != nil {
			return fmt.Errorf("create %s: %s %s: %w", spec.Name, keys[i], *mode, err)
		}
		*mode = "container:" + c.ID
	}
	if err := o.resolveVolumesFrom(ctx, project, spec, noStart); err != nil {
		return err
	}
	return o.resolveLinks(ctx, project, spec, noStart)
}

// resolveVolumesFrom resolves entries written SERVICE[:ro|rw]; entries
// written container:NAME[:ro|rw] name a container already.
func (o *Orchestrator) resolveVolumesFrom(ctx context.Context, project string, spec *InstanceSpec, noStart bool) error {
	var resolved []string
	for _, entry := range spec.Host.VolumesFrom {
		if name, ok := strings.CutPrefix(entry, "container:"); ok {
			resolved = append(resolved, name)
			continue
		}
		service, mode, _ := strings.Cut(entry, ":")
		c, err := o.serviceContainer(ctx, project, service, false, noStart)
		if err != nil {
			return fmt.Errorf("create %s: volumes_from %s: %w", spec.Name, entry, err)
		}
		resolved = append(resolved, strings.TrimSuffix(c.ID+":"+mode, ":"))
	}
	spec.Host.VolumesFrom = resolved
	return nil
}

func (o *Orchestrator) resolveLinks(ctx context.Context, project string, spec *InstanceSpec, noStart bool) error {
	var links []string
	for _, link := range spec.ServiceLinks {
		service, alias, _ := strings.Cut(link, ":")
		c, err := o.serviceContainer(ctx, project, service, true, noStart)
		if err != nil {
			return fmt.Errorf("create %s: links %s: %w", spec.Name, link, err)
		}
		links = append(links, strings.TrimPrefix(c.Names[0], "/")+":"+alias)
	}
	if len(links) == 0 {
		return nil
	}
	endpoints := []*network.EndpointSettings{spec.Endpoint}
	for _, endpoint := range spec.ExtraNetwork {
		endpoints = append(endpoints, endpoint)
	}
	for _, endpoint := range endpoints {
		if endpoint != nil {
			endpoint.Links = append(slices.Clip(endpoint.Links), links...)
		}
	}
	return nil
}

// serviceContainer returns a running container of a service of the
// project: its front door when frontDoor is true and it has one, else the
// instance with the lowest slot. With created, containers that were created
// and never started count when the service has no running one.
func (o *Orchestrator) serviceContainer(ctx context.Context, project, service string, frontDoor, created bool) (container.Summary, error) {
	list, err := o.Engine.ContainerList(ctx, container.ListOptions{All: created, Filters: projectFilter(project)})
	if err != nil {
		return container.Summary{}, fmt.Errorf("list containers: %w", err)
	}
	state := container.StateRunning
	if created && !slices.ContainsFunc(list, func(c container.Summary) bool {
		return c.Labels[LabelService] == service && c.State == container.StateRunning
	}) {
		state = container.StateCreated
	}
	var candidates []container.Summary
	for _, c := range list {
		role := c.Labels[LabelRole]
		if c.Labels[LabelProject] != project || c.Labels[LabelService] != service ||
			c.State != state || len(c.Names) == 0 {
			continue
		}
		if role == RoleFrontDoor && frontDoor {
			return c, nil
		}
		if role == RoleInstance {
			candidates = append(candidates, c)
		}
	}
	if len(candidates) == 0 {
		return container.Summary{}, fmt.Errorf("service %s has no running instance; "+
			"start it first with clusterctl up %s, or list it in depends_on", service, service)
	}
	slot := func(c container.Summary) int {
		n, _ := strconv.Atoi(c.Labels[LabelInstance])
		return n
	}
	return slices.MinFunc(candidates, func(a, b container.Summary) int { return cmp.Compare(slot(a), slot(b)) }), nil
}
