package cli

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/clusterctl/clusterctl/compose"
	"github.com/clusterctl/clusterctl/orchestrator"
)

// mutate runs fn under the project's lock with progress rendering: one
// mutating command per project at a time.
func mutate(c *cli.Context, project string, fn func(*orchestrator.Orchestrator) error) error {
	mutating.Store(true)
	return withProgress(c, func(o *orchestrator.Orchestrator) error {
		lock, err := o.Acquire(c.Context, project, strings.Join(commandLine(c), " "))
		if err != nil {
			return err
		}
		defer func() {
			if err := lock.Release(c.Context); err != nil {
				o.Logger.Warn("release project lock", "project", project, "err", err)
			}
		}()
		return fn(o)
	})
}

// commandLine returns the command and its arguments, for the lock holder.
func commandLine(c *cli.Context) []string {
	return append(commandNames(c), c.Args().Slice()...)
}

// commandNames returns the names of the command and the commands above it,
// outermost first, such as rollout and undo.
func commandNames(c *cli.Context) []string {
	var names []string
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && ctx.Command.Name != "" && ctx.Command.Name != c.App.Name {
			names = append([]string{ctx.Command.Name}, names...)
		}
	}
	return names
}

func rolloutFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "wait-timeout", Usage: "readiness deadline for every new instance, e.g. 90s; default: the healthcheck's own budget", Action: checkWaitTimeout},
	}
}

func rolloutCommand() *cli.Command {
	return &cli.Command{
		Name:      "rollout",
		Usage:     "replace instances whose revision differs from the file, batch by batch",
		ArgsUsage: "[SERVICE...]",
		Description: "A new instance joins the front door only once it is ready; only then does the old one leave,\n" +
			"drain its requests in flight and stop. deploy.update_config sets parallelism, delay, order,\n" +
			"failure_action (rollback by default), monitor and max_failure_ratio.\n\n" + exitCodesHelp,
		Flags: rolloutFlags(),
		Action: traced("clusterctl rollout", func(c *cli.Context) error {
			p, err := loadProject(c)
			if err != nil {
				return err
			}
			return mutate(c, p.Name, func(o *orchestrator.Orchestrator) error {
				return o.Up(c.Context, p, orchestrator.UpOptions{
					Services: c.Args().Slice(), WaitTimeout: c.Duration("wait-timeout"), NoDeps: true,
				})
			})
		}),
		Subcommands: []*cli.Command{rolloutStatusCommand(), rolloutHistoryCommand(), rolloutUndoCommand(), rolloutRestartCommand()},
	}
}

// oneService returns the single SERVICE argument of a subcommand.
func oneService(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", usagef("%s takes one SERVICE argument, got %d", c.Command.Name, c.NArg())
	}
	return c.Args().First(), nil
}

// mutateService loads the project and runs fn under its lock for the
// subcommand's single SERVICE argument.
func mutateService(c *cli.Context, fn func(*orchestrator.Orchestrator, *compose.Project, string) error) error {
	service, err := oneService(c)
	if err != nil {
		return err
	}
	p, err := loadProject(c)
	if err != nil {
		return err
	}
	return mutate(c, p.Name, func(o *orchestrator.Orchestrator) error {
		return fn(o, p, service)
	})
}

func rolloutRestartCommand() *cli.Command {
	return &cli.Command{
		Name:        "restart",
		Usage:       "replace every instance of a service with a fresh container of the same configuration",
		ArgsUsage:   "SERVICE",
		Description: exitCodesHelp,
		Flags:       rolloutFlags(),
		Action: traced("clusterctl rollout restart", func(c *cli.Context) error {
			return mutateService(c, func(o *orchestrator.Orchestrator, p *compose.Project, service string) error {
				return o.Restart(c.Context, p, service, orchestrator.UpOptions{WaitTimeout: c.Duration("wait-timeout")})
			})
		}),
	}
}

func rolloutUndoCommand() *cli.Command {
	return &cli.Command{
		Name:      "undo",
		Usage:     "roll a service back to its previous revision, or to --to-revision N",
		ArgsUsage: "SERVICE",
		Description: "The revisions come from the history kept on the Docker engine (clusterctl rollout history).\n" +
			"The file is not changed: the next up rolls forward to it again.\n\n" + exitCodesHelp,
		Flags: append(rolloutFlags(), &cli.IntFlag{Name: "to-revision", Usage: "revision `NUMBER` from rollout history"}),
		Action: traced("clusterctl rollout undo", func(c *cli.Context) error {
			return mutateService(c, func(o *orchestrator.Orchestrator, p *compose.Project, service string) error {
				return o.Undo(c.Context, p, service, c.Int("to-revision"), orchestrator.UpOptions{WaitTimeout: c.Duration("wait-timeout")})
			})
		}),
	}
}

func rolloutHistoryCommand() *cli.Command {
	return &cli.Command{
		Name:        "history",
		Usage:       "list a service's recorded revisions, oldest first (the last 10 are kept on the engine)",
		ArgsUsage:   "SERVICE",
		Description: exitCodesHelp,
		Flags:       []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print a JSON array on stdout"}},
		Action: func(c *cli.Context) error {
			service, err := oneService(c)
			if err != nil {
				return err
			}
			o, name, err := openProject(c, []string{service}, false)
			if err != nil {
				return err
			}
			history, err := o.History(c.Context, name, service)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if history == nil {
					history = []orchestrator.Revision{}
				}
				return writeJSON(c, history)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NUMBER\tREVISION\tCREATED\tIMAGE\tCURRENT")
			for _, r := range history {
				current := ""
				if r.Current {
					current = "*"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.Number, r.Revision, r.Created.Local().Format("2006-01-02 15:04:05 MST"), r.Image, current)
			}
			return tw.Flush()
		},
	}
}

func rolloutStatusCommand() *cli.Command {
	return &cli.Command{
		Name:        "status",
		Usage:       "compare each service's revision in the file with the running instances",
		ArgsUsage:   "[SERVICE...]",
		Description: exitCodesHelp,
		Flags:       []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print a JSON array on stdout"}},
		Action: func(c *cli.Context) error {
			p, err := loadProject(c)
			if err != nil {
				return err
			}
			o, err := newOrchestrator(c, nil)
			if err != nil {
				return err
			}
			rows, err := o.RolloutStatus(c.Context, p, c.Args().Slice())
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c, rows)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tFILE REVISION\tUP TO DATE\tINSTANCES\tRUNNING BY REVISION")
			for _, r := range rows {
				var parts []string
				for _, rev := range slices.Sorted(maps.Keys(r.Revisions)) {
					parts = append(parts, fmt.Sprintf("%s=%d", rev, r.Revisions[rev]))
				}
				upToDate, instances := statusCounts(r)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Service, r.Revision, upToDate, instances, strings.Join(parts, " "))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(rows) > 0 && rows[0].Holder != "" {
				fmt.Fprintf(c.App.Writer, "in progress: %s\n", rows[0].Holder)
			}
			return nil
		},
	}
}

// statusCounts returns the UP TO DATE and INSTANCES cells of a rollout
// status row. Up-to-date instances count against the running ones,
// because rollout restart and undo keep a scaled count. The file's count
// shows where it differs, because up and rollout return to it.
func statusCounts(r orchestrator.ServiceStatus) (upToDate, instances string) {
	total := r.Running
	if total == 0 {
		total = r.Desired
	}
	instances = strconv.Itoa(r.Running)
	if r.Running != r.Desired {
		instances += fmt.Sprintf(" (file: %d)", r.Desired)
	}
	return fmt.Sprintf("%d/%d", r.UpToDate, total), instances
}

func scaleCommand() *cli.Command {
	return &cli.Command{
		Name:      "scale",
		Usage:     "change instance counts and nothing else",
		ArgsUsage: "SERVICE=N...",
		Description: "N is an integer, max (the engine's CPU count) or negative (CPUs minus n, at least 1). New\n" +
			"instances run the configuration the service runs now, not the file's: up applies the file.\n" +
			"Slots stay contiguous: scaling down removes the highest slots, which leave the front door and\n" +
			"drain their requests in flight before they stop. A service already at N is left alone.\n\n" + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "wait-timeout", Usage: "readiness deadline for every new instance, e.g. 90s; default: the healthcheck's own budget", Action: checkWaitTimeout},
		},
		Action: traced("clusterctl scale", func(c *cli.Context) error {
			targets, err := parseScaleArgs(c.Args().Slice())
			if err != nil {
				return err
			}
			p, err := loadProject(c)
			if err != nil {
				return err
			}
			// An unknown service fails here, before the lock is taken.
			for _, target := range targets {
				if _, err := p.Select([]string{target.Service}); err != nil {
					return err
				}
			}
			return mutate(c, p.Name, func(o *orchestrator.Orchestrator) error {
				return o.Scale(c.Context, p, targets, orchestrator.UpOptions{WaitTimeout: c.Duration("wait-timeout"), NoDeps: true})
			})
		}),
	}
}

// parseScaleArgs reads the SERVICE=N arguments of scale. A service named
// twice is a usage error.
func parseScaleArgs(args []string) ([]orchestrator.ScaleTarget, error) {
	if len(args) == 0 {
		return nil, usagef("scale needs at least one SERVICE=N argument, e.g. clusterctl scale web=4")
	}
	var targets []orchestrator.ScaleTarget
	seen := map[string]string{}
	for _, arg := range args {
		name, count, err := parseScale(arg)
		if err != nil {
			return nil, err
		}
		if first, ok := seen[name]; ok {
			return nil, usagef("service %s is named twice (%s and %s); give one count per service", name, first, arg)
		}
		seen[name] = arg
		targets = append(targets, orchestrator.ScaleTarget{Service: name, Count: count})
	}
	return targets, nil
}

func parseScale(arg string) (string, compose.InstanceCount, error) {
	name, value, ok := strings.Cut(arg, "=")
	if !ok || name == "" {
		return "", compose.InstanceCount{}, usagef("invalid scale argument %q: use SERVICE=N, e.g. web=4", arg)
	}
	if value == "max" {
		return name, compose.InstanceCount{Max: true}, nil
	}
	n, err := strconv.Atoi(value)
	if err != nil {
		return "", compose.InstanceCount{}, usagef("invalid instance count %q for %s: use an integer such as 4, a negative number for the CPU count minus n, or max", value, name)
	}
	count := compose.InstanceCount{Fixed: n}
	if err := compose.CheckInstanceLimit(name, count); err != nil {
		return "", compose.InstanceCount{}, usagef("%v; give a smaller count", err)
	}
	return name, count, nil
}

// checkWaitTimeout rejects a negative --wait-timeout, which would fail every
// instance at once.
func checkWaitTimeout(_ *cli.Context, d time.Duration) error {
	if d < 0 {
		return usagef("invalid --wait-timeout %s: use a positive duration such as 90s", d)
	}
	return nil
}
