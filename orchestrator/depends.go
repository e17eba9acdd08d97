package orchestrator

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/clusterctl/clusterctl/compose"
)

// The depends_on conditions of the Compose specification.
const (
	ConditionStarted   = types.ServiceConditionStarted
	ConditionHealthy   = types.ServiceConditionHealthy
	ConditionCompleted = types.ServiceConditionCompletedSuccessfully
)

// Dependency is one depends_on entry of a service.
type Dependency struct {
	// Service is the service depended on.
	Service string
	// Condition is ConditionStarted, ConditionHealthy or ConditionCompleted.
	Condition string
	// Required false lets the dependent start when Service is not enabled.
	Required bool
	// Restart makes Up replace the dependent after it replaces Service.
	Restart bool
}

// SkippedDependency is an optional dependency on a service that is not
// enabled, which the dependent does without.
type SkippedDependency struct {
	Service    string
	Dependency string
}

// StartPlan is the order in which Up converges services so that each one
// starts after what it depends on.
type StartPlan struct {
	// Services are the selected services and what they depend on,
	// dependencies before their dependents, ties in name order.
	Services []string
	// Added are the services that only a dependency brought in.
	Added []string
	// Waits lists, per service, the dependencies it waits for.
	Waits map[string][]Dependency
	// Skipped are optional dependencies on services that are not enabled.
	Skipped []SkippedDependency
}

// String renders the plan one service per line, for tests and logs.
func (s StartPlan) String() string {
	var lines []string
	for _, name := range s.Services {
		line := name
		var waits []string
		for _, dep := range s.Waits[name] {
			waits = append(waits, dep.Service+" ("+dep.Condition+")")
		}
		if len(waits) > 0 {
			line += " after " + strings.Join(waits, ", ")
		}
		if slices.Contains(s.Added, name) {
			line += " [dependency]"
		}
		lines = append(lines, line)
	}
	for _, skip := range s.Skipped {
		lines = append(lines, fmt.Sprintf("skip %s -> %s", skip.Service, skip.Dependency))
	}
	return strings.Join(lines, "\n")
}

// ServiceDependencies returns the depends_on entries of a service, sorted
// by the service depended on. An empty condition means ConditionStarted.
func ServiceDependencies(svc *compose.Service) []Dependency {
	var deps []Dependency
	for _, name := range slices.Sorted(maps.Keys(svc.Config.DependsOn)) {
		entry := svc.Config.DependsOn[name]
		condition := entry.Condition
		if condition == "" {
			condition = ConditionStarted
		}
		deps = append(deps, Dependency{Service: name, Condition: condition, Required: entry.Required, Restart: entry.Restart})
	}
	return deps
}

// PlanStart orders the selected services and, when expand is set,
// everything they depend on, as docker compose up SERVICE does. graph maps
// every enabled service of the project to its dependencies. Without
// expand, a dependency outside the selection is neither added nor waited
// for. A required dependency on a service that is not enabled, and a
// dependency cycle, are errors that name the services. It is a pure
// function.
func PlanStart(selected []string, graph map[string][]Dependency, expand bool) (StartPlan, error) {
	plan := StartPlan{Waits: map[string][]Dependency{}}
	included := map[string]bool{}
	queue := slices.Clone(selected)
	for _, name := range selected {
		included[name] = true
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		for _, dep := range graph[name] {
			if _, enabled := graph[dep.Service]; !enabled {
				if dep.Required {
					return StartPlan{}, fmt.Errorf("service %q depends on service %q, which is not enabled; "+
						"enable its profile with --profile, or set required: false on the dependency", name, dep.Service)
				}
				plan.Skipped = append(plan.Skipped, SkippedDependency{Service: name, Dependency: dep.Service})
				continue
			}
			if !included[dep.Service] && !expand {
				continue
			}
			plan.Waits[name] = append(plan.Waits[name], dep)
			if !included[dep.Service] {
				included[dep.Service] = true
				plan.Added = append(plan.Added, dep.Service)
				queue = append(queue, dep.Service)
			}
		}
	}
	slices.Sort(plan.Added)
	order, err := topologicalOrder(slices.Sorted(maps.Keys(included)), plan.Waits)
	if err != nil {
		return StartPlan{}, err
	}
	plan.Services = order
	return plan, nil
}

// topologicalOrder sorts names so that each comes after the services it
// waits for (Kahn's algorithm, ties in name order).
func topologicalOrder(names []string, waits map[string][]Dependency) ([]string, error) {
	pending := map[string]int{}
	dependents := map[string][]string{}
	for _, name := range names {
		pending[name] = len(waits[name])
		for _, dep := range waits[name] {
			dependents[dep.Service] = append(dependents[dep.Service], name)
		}
	}
	var order, ready []string
	for _, name := range names {
		if pending[name] == 0 {
			ready = append(ready, name)
		}
	}
	for len(ready) > 0 {
		slices.Sort(ready)
		name := ready[0]
		ready = ready[1:]
		order = append(order, name)
		for _, dependent := range dependents[name] {
			if pending[dependent]--; pending[dependent] == 0 {
				ready = append(ready, dependent)
			}
		}
	}
	if len(order) < len(names) {
		return nil, cycleError(names, pending, waits)
	}
	return order, nil
}

// cycleError names one cycle among the services that could not be
// ordered, by following dependencies until a service repeats.
func cycleError(names []string, pending map[string]int, waits map[string][]Dependency) error {
	var start string
	for _, name := range names {
		if pending[name] > 0 {
			start = name
			break
		}
	}
	path := []string{start}
	seen := map[string]int{start: 0}
	for current := start; ; {
		var next string
		for _, dep := range waits[current] {
			if pending[dep.Service] > 0 {
				next = dep.Service
				break
			}
		}
		if i, ok := seen[next]; ok {
			path = append(path[i:], next)
			break
		}
		seen[next] = len(path)
		path = append(path, next)
		current = next
	}
	return fmt.Errorf("dependency cycle: %s; remove one of these depends_on entries", strings.Join(path, " -> "))
}

// dependencyGraph returns the dependencies of every enabled service.
func dependencyGraph(p *compose.Project) map[string][]Dependency {
	graph := make(map[string][]Dependency, len(p.Services))
	for i := range p.Services {
		graph[p.Services[i].Name] = ServiceDependencies(&p.Services[i])
	}
	return graph
}
