package cli

import (
	"encoding/json"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/clusterctl/clusterctl/internal/frontdoor"
	"github.com/clusterctl/clusterctl/orchestrator"
)

// frontDoorCommand runs inside front door containers: serve is their entry
// point, members and status are what the orchestrator runs there with
// docker exec. It is not meant for users.
func frontDoorCommand() *cli.Command {
	socket := &cli.StringFlag{Name: "socket", Value: orchestrator.AdminSocket, Usage: "admin unix socket `PATH`"}
	return &cli.Command{
		Name:   "frontdoor",
		Hidden: true,
		Usage:  "run or steer a front door (inside its container)",
		Subcommands: []*cli.Command{
			{
				Name:  "serve",
				Usage: "serve the front door until SIGTERM",
				Flags: []cli.Flag{
					socket,
					&cli.StringFlag{Name: "mode", Value: frontdoor.ModeHTTP, Usage: "http or tcp"},
					&cli.IntSliceFlag{Name: "port", Required: true, Usage: "`PORT` to listen on and to dial on instances (repeatable)"},
					&cli.StringFlag{Name: "service", Usage: "service `NAME`, for logs and error pages"},
				},
				Action: func(c *cli.Context) error {
					logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
					return frontdoor.Serve(c.Context, frontdoor.Config{
						Mode: c.String("mode"), Ports: c.IntSlice("port"), AdminSocket: c.String("socket"),
						Service: c.String("service"), Logger: logger,
					})
				},
			},
			{
				Name:      "members",
				Usage:     "replace the rotation and wait for removed instances to drain",
				ArgsUsage: "MEMBERSHIP_JSON",
				Flags: []cli.Flag{socket, &cli.BoolFlag{Name: "stream",
					Usage: "read one membership JSON per line from standard input and reply one JSON line each, until the input ends"}},
				Action: func(c *cli.Context) error {
					if c.Bool("stream") {
						if c.NArg() != 0 {
							return usagef("members --stream reads standard input and takes no argument, got %d", c.NArg())
						}
						return frontdoor.ServeMembersStream(c.Context, c.String("socket"), c.App.Reader, c.App.Writer)
					}
					if c.NArg() != 1 {
						return usagef("members takes one JSON argument, got %d", c.NArg())
					}
					var m frontdoor.Membership
					if err := json.Unmarshal([]byte(c.Args().First()), &m); err != nil {
						return usagef("invalid membership JSON: %v", err)
					}
					result, err := frontdoor.SetMembers(c.Context, c.String("socket"), m)
					if err != nil {
						return err
					}
					return json.NewEncoder(c.App.Writer).Encode(result)
				},
			},
			{
				Name:  "status",
				Usage: "print the front door's backends and counters as JSON",
				Flags: []cli.Flag{socket},
				Action: func(c *cli.Context) error {
					report, err := frontdoor.Status(c.Context, c.String("socket"))
					if err != nil {
						return err
					}
					return json.NewEncoder(c.App.Writer).Encode(report)
				},
			},
		},
	}
}
