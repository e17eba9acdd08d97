package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"time"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"

	"github.com/clusterctl/clusterctl/compose"
	"github.com/clusterctl/clusterctl/orchestrator"
)

// placeholderInstanceID stands for the per-container service.instance.id,
// which is only generated when the instance is created.
const placeholderInstanceID = "<generated per container>"

// resolvedService is clusterctl's view of one service in `config` output.
type resolvedService struct {
	Instances int `json:"instances" yaml:"instances"`
	// OneShot is true for a service that runs to completion, because another
	// service depends on it with condition service_completed_successfully.
	OneShot      bool                `json:"one_shot,omitempty" yaml:"one_shot,omitempty"`
	InstanceVar  string              `json:"instance_var,omitempty" yaml:"instance_var,omitempty"`
	Ready        *compose.ReadyProbe `json:"ready,omitempty" yaml:"ready,omitempty"`
	MinUptime    string              `json:"min_uptime,omitempty" yaml:"min_uptime,omitempty"`
	DrainTimeout string              `json:"drain_timeout" yaml:"drain_timeout"`
	FrontDoor    *compose.Proxy      `json:"front_door,omitempty" yaml:"front_door,omitempty"`
	// Slots lists what each instance gets, slot by slot.
	Slots []resolvedInstance `json:"slots" yaml:"slots"`
}

// resolvedInstance is one slot's instance in `config` output. Values that
// exist only once the container does are placeholders in angle brackets.
type resolvedInstance struct {
	Slot        int               `json:"slot" yaml:"slot"`
	Name        string            `json:"name" yaml:"name"`
	Environment []string          `json:"environment" yaml:"environment"`
	Labels      map[string]string `json:"labels" yaml:"labels"`
}

// Placeholders for values that exist only once a container does.
const (
	placeholderImageID  = "<image ID>"
	placeholderRevision = "<revision>"
	placeholderTemplate = "<instance template as JSON>"
)

func configCommand() *cli.Command {
	return &cli.Command{
		Name:      "config",
		ArgsUsage: "[SERVICE...]",
		Usage:     "print the resolved project: the compose model after interpolation and defaults, with instance counts and each instance's name, environment and labels",
		Description: "Each service gets an x-clusterctl-resolved entry with its instance count and, per slot, the instance's\n" +
			"container name pattern, environment and labels. The engine's CPU count resolves instances: max; without\n" +
			"an engine this machine's CPU count is used. Values that exist only once a container does, such as\n" +
			"service.instance.id and the revision, are placeholders in angle brackets. Named services limit the\n" +
			"output to them.\n\n" + exitCodesHelp,
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Value: "yaml", Usage: "output format: yaml or json"}},
		Action: func(c *cli.Context) error {
			format := c.String("format")
			if format != "yaml" && format != "json" {
				return usagef("invalid --format %q: use yaml or json", format)
			}
			p, err := loadProject(c)
			if err != nil {
				return err
			}
			selected, err := p.Select(c.Args().Slice())
			if err != nil {
				return err
			}
			doc, err := resolvedDocument(c, p)
			if err != nil {
				return err
			}
			if c.NArg() > 0 {
				keepServices(doc, selected)
			}
			if format == "json" {
				return writeJSON(c, doc)
			}
			enc := yaml.NewEncoder(c.App.Writer)
			enc.SetIndent(2)
			return enc.Encode(doc)
		},
	}
}

// keepServices removes from doc's services every service not in selected.
func keepServices(doc map[string]any, selected []compose.Service) {
	services, _ := doc["services"].(map[string]any)
	for name := range services {
		if !slices.ContainsFunc(selected, func(svc compose.Service) bool { return svc.Name == name }) {
			delete(services, name)
		}
	}
}

// resolvedDocument returns compose-go's model as a generic document with an
// x-clusterctl-resolved entry added to every service.
func resolvedDocument(c *cli.Context, p *compose.Project) (map[string]any, error) {
	data, err := p.Model.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode project: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decode project: %w", err)
	}
	// compose-go leaves extensions out of its JSON. They go back in, so
	// that the output is a compose file with the same meaning.
	maps.Copy(doc, p.Model.Extensions)
	services, _ := doc["services"].(map[string]any)
	cpus := engineCPUs(c)
	for i := range p.Services {
		svc := &p.Services[i]
		entry, _ := services[svc.Name].(map[string]any)
		if entry == nil {
			continue
		}
		maps.Copy(entry, svc.Config.Extensions)
		resolved, err := resolveService(p, svc, cpus)
		if err != nil {
			return nil, err
		}
		entry["x-clusterctl-resolved"] = resolved
	}
	return doc, nil
}

func resolveService(p *compose.Project, svc *compose.Service, cpus int) (resolvedService, error) {
	count := svc.Instances.Resolve(cpus)
	out := resolvedService{
		Instances: count, OneShot: svc.OneShot, InstanceVar: svc.InstanceVar, Ready: svc.Ready,
		DrainTimeout: svc.DrainTimeout.String(), FrontDoor: svc.Proxy, Slots: []resolvedInstance{},
	}
	if svc.MinUptime > 0 {
		out.MinUptime = svc.MinUptime.String()
	}
	tmpl, _, err := orchestrator.NewTemplate(p, svc, placeholderImageID, "")
	if err != nil {
		return resolvedService{}, err
	}
	for slot := range count {
		name := svc.Config.ContainerName
		if name == "" {
			name = fmt.Sprintf("%s-%s-%d-<id>", p.Name, svc.Name, slot)
		}
		labels := tmpl.Instance(p.Name, slot, count, placeholderInstanceID).Config.Labels
		labels[orchestrator.LabelRevision] = placeholderRevision
		labels[orchestrator.LabelSpec] = placeholderTemplate
		out.Slots = append(out.Slots, resolvedInstance{
			Slot: slot,
			Name: name,
			Environment: tmpl.Env.Instance(orchestrator.InstanceVars{
				Slot: slot, Count: count, InstanceID: placeholderInstanceID, Name: name, Revision: placeholderRevision,
			}),
			Labels: labels,
		})
	}
	return out, nil
}

// engineCPUs returns the engine's CPU count, or this machine's when no
// engine responds within a second.
func engineCPUs(c *cli.Context) int {
	engine, err := orchestrator.NewEngine()
	if err != nil {
		return runtime.NumCPU()
	}
	defer engine.Close()
	ctx, cancel := context.WithTimeout(c.Context, time.Second)
	defer cancel()
	info, err := engine.Info(ctx)
	if err != nil {
		return runtime.NumCPU()
	}
	return info.NCPU
}
