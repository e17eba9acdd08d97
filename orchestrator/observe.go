package orchestrator

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
)

// observe lists every container of the project, stopped ones included,
// except the lock container, which belongs to the command that runs.
func (o *Orchestrator) observe(ctx context.Context, project string) ([]ObservedContainer, error) {
	list, err := o.Engine.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: projectFilter(project),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	observed := make([]ObservedContainer, 0, len(list))
	for _, c := range list {
		if c.Labels[LabelRole] == RoleLock {
			continue
		}
		observed = append(observed, observedFromSummary(c))
	}
	return observed, nil
}

func observedFromSummary(c container.Summary) ObservedContainer {
	slot, err := strconv.Atoi(c.Labels[LabelInstance])
	if err != nil {
		slot = -1
	}
	name := c.ID
	if len(c.Names) > 0 {
		name = c.Names[0][1:]
	}
	return ObservedContainer{
		ID:       c.ID,
		Name:     name,
		Service:  c.Labels[LabelService],
		Role:     c.Labels[LabelRole],
		Slot:     slot,
		Revision: c.Labels[LabelRevision],
		State:    c.State,
		Created:  time.Unix(c.Created, 0),
		ExitCode: exitCodeOf(c.Status),
	}
}

// exitCodeOf reads the exit code from the status text the engine lists for
// a container, such as "Exited (3) 2 minutes ago", or returns -1 when the
// text has none.
func exitCodeOf(status string) int {
	rest, ok := strings.CutPrefix(status, "Exited (")
	if !ok {
		return -1
	}
	code, _, ok := strings.Cut(rest, ")")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		return -1
	}
	return n
}

// observedFromLabels describes a container from an engine event, whose
// attributes carry the container's labels and its name.
func observedFromLabels(id string, attrs map[string]string) ObservedContainer {
	slot, err := strconv.Atoi(attrs[LabelInstance])
	if err != nil {
		slot = -1
	}
	return ObservedContainer{
		ID: id, Name: attrs["name"], Service: attrs[LabelService], Role: attrs[LabelRole],
		Slot: slot, Revision: attrs[LabelRevision], State: "running", Created: time.Now(), ExitCode: -1,
	}
}
