package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/clusterctl/clusterctl/orchestrator"
)

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print the merged output of instances, each line prefixed service.slot",
		ArgsUsage: "[SERVICE or INSTANCE...]",
		Description: "INSTANCE is service.slot or a container name. Lines are merged across instances in the order\n" +
			"the engine received them, and the output of instances that exited is included. With -f, instances\n" +
			"that start later (scale, rollout, restart after a crash) join the stream and removed ones leave it;\n" +
			"following ends once the project has no container left, as after down.\n" +
			"Prefixes are colored when stdout is a terminal and NO_COLOR is unset or empty.\n\n" + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new output until interrupted"},
			&cli.StringFlag{Name: "tail", Aliases: []string{"n"}, Value: "all", Usage: "print the last `N` lines of each instance, or all"},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "print each line's RFC 3339 time in UTC after its prefix"},
			&cli.StringFlag{Name: "since", Usage: "only lines since `TIME`: a duration before now such as 10m, or an RFC 3339 time"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per line: service, slot, name, stream, time, message"},
		},
		Action: func(c *cli.Context) error {
			opts, err := logsOptions(c, time.Now())
			if err != nil {
				return err
			}
			o, name, err := openProject(c, opts.Targets, true)
			if err != nil {
				return err
			}
			opts.OnNoInstance = func() {
				fmt.Fprintf(c.App.ErrWriter, "no instance of project %s exists yet; waiting for instances to start "+
					"(logs -f ends with Ctrl-C, or after down)\n", name)
			}
			err = o.Logs(c.Context, name, opts, c.App.Writer)
			if opts.Follow && c.Err() != nil {
				// Ctrl-C is the normal way to end following, not a failure.
				return nil
			}
			return err
		},
	}
}

// logsOptions reads the logs flags. A --since duration counts back from
// now.
func logsOptions(c *cli.Context, now time.Time) (orchestrator.LogsOptions, error) {
	tail, err := parseTail(c.String("tail"))
	if err != nil {
		return orchestrator.LogsOptions{}, err
	}
	var since time.Time
	if value := c.String("since"); value != "" {
		if since, err = parseSince(value, now); err != nil {
			return orchestrator.LogsOptions{}, err
		}
	}
	return orchestrator.LogsOptions{
		Targets:    c.Args().Slice(),
		Follow:     c.Bool("follow"),
		Tail:       tail,
		Since:      since,
		Timestamps: c.Bool("timestamps"),
		JSON:       c.Bool("json"),
		Color:      colorOutput(c.App.Writer),
	}, nil
}

// parseTail reads --tail: "all" or a count of lines, -1 meaning all.
func parseTail(value string) (int, error) {
	if value == "all" {
		return -1, nil
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < 0 {
		return 0, usagef("invalid --tail %q: use a number of lines such as 20, or all", value)
	}
	return n, nil
}

// sinceLayouts are the absolute times that --since accepts, as docker logs
// does: RFC 3339 with or without fractional seconds, and without a zone,
// which means the local time zone.
var sinceLayouts = []struct {
	layout string
	local  bool
}{
	{time.RFC3339Nano, false},
	{"2006-01-02T15:04:05.999999999", true},
	{"2006-01-02T15:04", true},
	{"2006-01-02", true},
}

// parseSince reads --since: a duration before now (10m, 1h30m), an RFC 3339
// time, a time or date without a zone in the local time zone, or Unix
// seconds with an optional fraction. "0" is Unix second 0, as in docker
// logs, and so selects every line.
func parseSince(value string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(value); err == nil && value != "0" {
		if d < 0 {
			return time.Time{}, usagef("invalid --since %q: a duration counts back from now and must not be negative; use e.g. 10m", value)
		}
		return now.Add(-d), nil
	}
	for _, l := range sinceLayouts {
		loc := time.UTC
		if l.local {
			loc = time.Local
		}
		if t, err := time.ParseInLocation(l.layout, value, loc); err == nil {
			return t, nil
		}
	}
	if t, ok := parseUnixSeconds(value); ok {
		return t, nil
	}
	return time.Time{}, usagef("invalid --since %q: use a duration before now such as 10m or 1h30m, "+
		"or an RFC 3339 time such as %s", value, now.UTC().Truncate(time.Second).Format(time.RFC3339))
}

// parseUnixSeconds reads "SECONDS[.FRACTION]" since the Unix epoch.
func parseUnixSeconds(value string) (time.Time, bool) {
	secs, frac, _ := strings.Cut(value, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || s < 0 || len(frac) > 9 {
		return time.Time{}, false
	}
	var nanos int64
	if frac != "" {
		n, err := strconv.ParseUint(frac, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		nanos = int64(n) * pow10(9-len(frac))
	}
	return time.Unix(s, nanos), true
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// colorOutput reports whether w is a terminal that takes colors: NO_COLOR
// unset or empty (https://no-color.org) and TERM not dumb.
func colorOutput(w any) bool {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	return os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}
