package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/clusterctl/clusterctl/internal/probe"
	"github.com/clusterctl/clusterctl/orchestrator"
)

// probeCommand is run by the orchestrator inside a short-lived container on
// an instance's network; it is not meant for users.
func probeCommand() *cli.Command {
	return &cli.Command{
		Name:      "probe",
		Hidden:    true,
		Usage:     "probe an instance until it is ready (runs inside a probe container)",
		ArgsUsage: "HOST",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "port", Required: true, Usage: "instance `PORT`"},
			&cli.StringFlag{Name: "http", Usage: "HTTP `PATH` to GET; without it the probe only connects"},
			&cli.DurationFlag{Name: "timeout", Value: orchestrator.DefaultReadyTimeout, Usage: "give up after this long"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("probe takes one HOST argument, got %d", c.NArg())
			}
			ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
			defer cancel()
			target := probe.Target{Host: c.Args().First(), Port: c.Int("port"), HTTPPath: c.String("http")}
			if err := probe.Until(ctx, target); err != nil {
				return err
			}
			_, err := fmt.Fprintln(c.App.Writer, "ready")
			return err
		},
	}
}

// lockCommand runs inside a project's lock container. It holds the lock
// until its standard input ends, which happens when the clusterctl process
// that attached to it exits for any reason.
func lockCommand() *cli.Command {
	return &cli.Command{
		Name:   "lock",
		Hidden: true,
		Usage:  "hold a project lock (inside the lock container)",
		Subcommands: []*cli.Command{{
			Name:  "hold",
			Usage: "block until standard input ends",
			Action: func(c *cli.Context) error {
				_, err := io.Copy(io.Discard, os.Stdin)
				return err
			},
		}},
	}
}
