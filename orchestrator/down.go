package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
)

// DownOptions adjust Down.
type DownOptions struct {
	// Volumes also removes the project's named volumes and the anonymous
	// volumes of its containers.
	Volumes bool
}

// Down removes the project from the engine. Front doors go first, so that
// no new request reaches an instance that is stopping. Then every instance
// stops with its own stop signal and grace period, and the project's
// networks go. Volumes, named and anonymous, are removed only when
// opts.Volumes is set.
func (o *Orchestrator) Down(ctx context.Context, project string, opts DownOptions) error {
	observed, err := o.observe(ctx, project)
	if err != nil {
		return err
	}
	var doors, rest []ObservedContainer
	for _, c := range observed {
		if c.Role == RoleFrontDoor {
			doors = append(doors, c)
		} else {
			rest = append(rest, c)
		}
	}
	errs := []error{o.removeAll(ctx, project, doors, opts.Volumes), o.removeAll(ctx, project, rest, opts.Volumes)}
	errs = append(errs, o.removeNetworks(ctx, project))
	if opts.Volumes {
		errs = append(errs, o.removeVolumes(ctx, project))
	}
	if len(observed) == 0 {
		o.Report.emit(Event{Kind: EventInfo, Project: project, Slot: -1, Message: "no containers of the project on this engine"})
	}
	return errors.Join(errs...)
}

func (o *Orchestrator) removeAll(ctx context.Context, project string, containers []ObservedContainer, anonymousVolumes bool) error {
	var wg sync.WaitGroup
	errs := make([]error, len(containers))
	for i, c := range containers {
		wg.Go(func() {
			if c.State == "running" || c.State == "restarting" {
				// A container gone since it was listed, such as a probe that
				// removed itself, needs no stop.
				err := o.stopInstance(ctx, project, c.Service, c.Slot, c.ID, c.Name)
				if err != nil && !errdefs.IsNotFound(err) {
					errs[i] = err
					return
				}
			}
			if errs[i] = o.removeContainerVolumes(ctx, c.ID, anonymousVolumes); errs[i] == nil {
				o.Report.emit(Event{Kind: EventRemoved, Project: project, Service: c.Service, Slot: c.Slot, Container: c.Name})
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (o *Orchestrator) removeNetworks(ctx context.Context, project string) error {
	list, err := o.Engine.NetworkList(ctx, network.ListOptions{Filters: projectFilter(project)})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	var errs []error
	for _, n := range list {
		if err := o.removeNetwork(ctx, n.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
			continue
		}
		o.Report.emit(Event{Kind: EventRemoved, Project: project, Slot: -1, Message: "network " + n.Name})
	}
	return errors.Join(errs...)
}

// removeNetwork removes a network, retrying for a few seconds while the
// engine still counts endpoints of containers that were just removed.
func (o *Orchestrator) removeNetwork(ctx context.Context, id string) error {
	deadline := time.Now().Add(networkRemoveTimeout)
	for {
		err := o.Engine.NetworkRemove(ctx, id)
		if err == nil || errdefs.IsNotFound(err) {
			return nil
		}
		if !strings.Contains(err.Error(), "active endpoints") || time.Now().After(deadline) {
			return err
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

// networkRemoveTimeout bounds removeNetwork's retries.
const networkRemoveTimeout = 10 * time.Second

func (o *Orchestrator) removeVolumes(ctx context.Context, project string) error {
	list, err := o.Engine.VolumeList(ctx, volume.ListOptions{Filters: projectFilter(project)})
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	var errs []error
	for _, v := range list.Volumes {
		if err := o.Engine.VolumeRemove(ctx, v.Name, false); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
			continue
		}
		o.Report.emit(Event{Kind: EventRemoved, Project: project, Slot: -1, Message: "volume " + v.Name})
	}
	return errors.Join(errs...)
}

func projectFilter(project string) filters.Args {
	return filters.NewArgs(filters.Arg("label", LabelProject+"="+project))
}
