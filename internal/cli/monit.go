package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/clusterctl/clusterctl/internal/monit"
	"github.com/clusterctl/clusterctl/orchestrator"
)

// minMonitInterval is the shortest --interval that monit accepts. A
// snapshot takes a second or more anyway, because each stats request waits
// for two samples of the engine's collector.
const minMonitInterval = 100 * time.Millisecond

func monitCommand() *cli.Command {
	return &cli.Command{
		Name:      "monit",
		Usage:     "show a live view of the project's instances: state, restarts, uptime, CPU and memory",
		ArgsUsage: "[SERVICE...]",
		Description: "Redraws the table on the terminal's alternate screen until q, Esc or Ctrl-C, which exit 0.\n" +
			"CPU% is relative to one CPU (200% is two full CPUs) and MEM leaves out the page cache, as in docker stats.\n" +
			"LIMIT is the memory limit, - without one. States: starting, ready, unhealthy, crashloop, exited, draining.\n" +
			"A narrow terminal hides HEALTH first, then LIMIT and NAME. In scripts use clusterctl ps --json.\n\n" + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Value: monit.DefaultInterval, Usage: "time from the start of one snapshot to the next, e.g. 2s"},
		},
		Action: func(c *cli.Context) error {
			interval := c.Duration("interval")
			if interval < minMonitInterval {
				return usagef("invalid --interval %s: use %s or more", interval, minMonitInterval)
			}
			out, ok := c.App.Writer.(*os.File)
			if !ok || !term.IsTerminal(int(out.Fd())) {
				return usagef("clusterctl monit needs a terminal on stdout; in scripts use clusterctl ps --json")
			}
			o, name, err := openProject(c, c.Args().Slice(), false)
			if err != nil {
				return err
			}
			source, err := newMonitSource(c, o, name)
			if err != nil {
				return err
			}
			return monit.Run(c.Context, name, source, out, monit.Options{
				Interval: interval, Profile: colorprofile.Detect(out, os.Environ()),
			})
		},
	}
}

// newMonitSource returns the view's source of snapshots. The orchestrator
// has no progress output, because stderr is the terminal that the view
// draws on.
func newMonitSource(c *cli.Context, o *orchestrator.Orchestrator, project string) (*monit.DockerSource, error) {
	engine, ok := o.Engine.(monit.StatsEngine)
	if !ok {
		return nil, fmt.Errorf("the engine client %T has no stats call", o.Engine)
	}
	return &monit.DockerSource{Project: project, Services: c.Args().Slice(), Lister: o, Engine: engine}, nil
}
