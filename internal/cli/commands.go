package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/clusterctl/clusterctl/internal/progress"
	"github.com/clusterctl/clusterctl/orchestrator"
)

// Version and Commit are set at build time with -ldflags
// "-X ...cli.Version=v1.2.3 -X ...cli.Commit=SHA". Without Commit, version
// prints the revision that the Go toolchain recorded, if any.
var (
	Version = "dev"
	Commit  = ""
)

// withProgress runs fn with an orchestrator whose events are rendered on
// stderr in the --progress mode.
func withProgress(c *cli.Context, fn func(*orchestrator.Orchestrator) error) error {
	mode, err := progress.ParseMode(c.String("progress"))
	if err != nil {
		return usagef("%v", err)
	}
	renderer := progress.New(mode, c.App.ErrWriter)
	o, err := newOrchestrator(c, renderer.Report)
	if err != nil {
		renderer.Close()
		return err
	}
	err = fn(o)
	renderer.Close()
	return err
}

func upCommand() *cli.Command {
	return &cli.Command{
		Name:      "up",
		Usage:     "create or converge the project's instances and front doors",
		ArgsUsage: "[SERVICE...]",
		Description: "Builds missing images for build: services, creates networks and volumes, starts front doors,\n" +
			"creates missing instances and removes surplus ones, and returns when every instance is ready\n" +
			"(with --detach, once the instances started).\n" +
			"Named services bring the services they depend on, and each service starts once its depends_on\n" +
			"conditions hold. Running up again with nothing changed does nothing.\n\n" + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "build", Usage: "rebuild images of build: services even when they exist"},
			&cli.BoolFlag{Name: "remove-orphans", Usage: "remove containers of services that are no longer in the file"},
			&cli.DurationFlag{Name: "wait-timeout", Usage: "readiness deadline for every instance, e.g. 90s; default: the healthcheck's own budget", Action: checkWaitTimeout},
			&cli.IntFlag{Name: "parallel", Value: orchestrator.DefaultParallelism, Usage: "how many instances to create at once"},
			&cli.BoolFlag{Name: "no-start", Usage: "create networks, volumes, front doors and instances without starting them; a later up starts them"},
			&cli.BoolFlag{Name: "no-deps", Usage: "leave out the services that the named services depend on"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once new instances started, without waiting until they are ready; " +
				"services behind a front door, or that a service needs healthy, are still waited for"},
		},
		Action: traced("clusterctl up", func(c *cli.Context) error {
			p, err := loadProject(c)
			if err != nil {
				return err
			}
			if c.Int("parallel") < 1 {
				return usagef("invalid --parallel %d: use 1 or more", c.Int("parallel"))
			}
			// An unknown service fails before the project lock is taken.
			if _, err := p.Select(c.Args().Slice()); err != nil {
				return err
			}
			return mutate(c, p.Name, func(o *orchestrator.Orchestrator) error {
				return o.Up(c.Context, p, orchestrator.UpOptions{
					Services:      c.Args().Slice(),
					Build:         c.Bool("build"),
					RemoveOrphans: c.Bool("remove-orphans"),
					WaitTimeout:   c.Duration("wait-timeout"),
					Parallelism:   c.Int("parallel"),
					NoStart:       c.Bool("no-start"),
					NoDeps:        c.Bool("no-deps"),
					Detach:        c.Bool("detach"),
				})
			})
		}),
	}
}

func downCommand() *cli.Command {
	return &cli.Command{
		Name:        "down",
		Usage:       "stop and remove the project's front doors, instances and networks",
		Description: "Front doors go first, then instances stop with their stop signal and grace period.\n\n" + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "volumes", Aliases: []string{"v"}, Usage: "also remove the project's named volumes"},
		},
		Action: traced("clusterctl down", func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("down takes no arguments, got %q: it removes the whole project; "+
					"to remove some services, delete them from the file and run up --remove-orphans",
					c.Args().Slice())
			}
			name, err := projectName(c)
			if err != nil {
				return err
			}
			return mutate(c, name, func(o *orchestrator.Orchestrator) error {
				return o.Down(c.Context, name, orchestrator.DownOptions{Volumes: c.Bool("volumes")})
			})
		}),
	}
}

func psCommand() *cli.Command {
	return &cli.Command{
		Name:        "ps",
		Usage:       "list the project's instances",
		ArgsUsage:   "[SERVICE...]",
		Description: "States: starting, ready, unhealthy, crashloop, exited, draining.\n\n" + exitCodesHelp,
		Flags:       []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print a JSON array on stdout"}},
		Action: func(c *cli.Context) error {
			o, name, err := openProject(c, c.Args().Slice(), false)
			if err != nil {
				return err
			}
			rows, err := o.PS(c.Context, name, c.Args().Slice())
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c, rows)
			}
			return writePSTable(c, rows)
		},
	}
}

func writeJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writePSTable(c *cli.Context, rows []orchestrator.InstanceStatus) error {
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSLOT\tNAME\tSTATE\tHEALTH\tRESTARTS\tUPTIME\tREVISION")
	for _, r := range rows {
		uptime := "-"
		if r.StartedAt != nil && r.State != orchestrator.StateExited && !r.GaveUp && r.NextRestartAt == nil {
			uptime = time.Since(*r.StartedAt).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Service, r.Slot, r.Name, stateCell(r), r.Health, r.Restarts, uptime, r.Revision)
	}
	return tw.Flush()
}

// stateCell is the STATE column of ps: the state, and for an instance that
// exited or restarts, its latest exit and the engine's backoff, such as
// "crashloop (exit 3, restarting in 800ms)". A container that up --no-start
// created and nothing started yet has no exit code to show.
func stateCell(r orchestrator.InstanceStatus) string {
	switch {
	case r.State == orchestrator.StateExited && r.StartedAt == nil:
		return "exited (never started)"
	case r.State == orchestrator.StateExited:
		return fmt.Sprintf("exited (%d)", r.ExitCode)
	case r.State != orchestrator.StateCrashloop && r.Backoff == "":
		return r.State
	}
	details := []string{fmt.Sprintf("exit %d", r.ExitCode)}
	if r.OOMKilled {
		details[0] = "OOMKilled"
	}
	if r.Backoff != "" {
		details = append(details, r.Backoff)
	}
	return r.State + " (" + strings.Join(details, ", ") + ")"
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print version and build information",
		Action: func(c *cli.Context) error {
			revision := cmp.Or(Commit, "unknown")
			if info, ok := debug.ReadBuildInfo(); ok && Commit == "" {
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" {
						revision = s.Value
					}
				}
			}
			_, err := fmt.Fprintf(c.App.Writer, "clusterctl %s\ncommit: %s\ngo: %s\nplatform: %s/%s\n",
				Version, revision, strings.TrimPrefix(runtime.Version(), "go"), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
