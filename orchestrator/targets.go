package orchestrator

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/clusterctl/clusterctl/compose"
)

// CheckTargets fails with a compose.InvalidError, as an unknown service in
// up does, when a target names no service of the project. The services of
// the compose file count, given in fileServices, and so do services with
// containers or rollout history on the engine. With instances set, SERVICE.SLOT of such a service and the
// name of any container of the project count too, whether or not that
// slot exists: a missing instance is the command's own failure.
func (o *Orchestrator) CheckTargets(ctx context.Context, project string, fileServices, targets []string, instances bool) error {
	if len(targets) == 0 {
		return nil
	}
	known := map[string]bool{}
	for _, name := range fileServices {
		known[name] = true
	}
	observed, err := o.observe(ctx, project)
	if err != nil {
		return err
	}
	containers := map[string]bool{}
	for _, c := range observed {
		known[c.Service] = true
		containers[c.Name] = true
	}
	history, err := o.Engine.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelProject+"="+project),
		filters.Arg("label", LabelRole+"="+RoleRevision),
	)})
	if err != nil {
		return fmt.Errorf("list rollout history: %w", err)
	}
	for _, v := range history.Volumes {
		known[v.Labels[LabelService]] = true
	}
	delete(known, "")

	var unknown []string
	for _, target := range targets {
		if known[target] || instances && (containers[target] || known[slotService(target)]) {
			continue
		}
		unknown = append(unknown, strconv.Quote(target))
	}
	if len(unknown) == 0 {
		return nil
	}
	kind, hint := "service", ""
	if instances {
		kind, hint = "service or instance", "; name an instance SERVICE.SLOT or by its container name from clusterctl ps"
	}
	names := slices.Sorted(maps.Keys(known))
	services := "known services are " + strings.Join(names, ", ") + hint
	if len(names) == 0 {
		services = "no service is known, neither from a compose file nor from containers or rollout history on this engine; check -f and -p"
	}
	return &compose.InvalidError{Message: fmt.Sprintf("no %s %s in project %s; %s", kind,
		strings.Join(unknown, ", "), project, services)}
}

// slotService returns SERVICE of a target written SERVICE.SLOT, or "".
// Service names may contain dots, so the slot follows the last one.
func slotService(target string) string {
	i := strings.LastIndex(target, ".")
	if i < 0 {
		return ""
	}
	slot, err := strconv.Atoi(target[i+1:])
	if err != nil || slot < 0 || strings.HasPrefix(target[i+1:], "+") {
		return ""
	}
	return target[:i]
}
