package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"

	"github.com/clusterctl/clusterctl/orchestrator"
)

func describeCommand() *cli.Command {
	return &cli.Command{
		Name:      "describe",
		Usage:     "show the revision, environment (secrets masked), restarts, last exit and last log lines of a service or instance",
		ArgsUsage: "SERVICE or INSTANCE",
		Description: "INSTANCE is service.slot or a container name. Values of variables whose names look secret\n" +
			"(TOKEN, SECRET, PASSWORD, KEY, AUTH, ...) are masked.\n\n" + exitCodesHelp,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON on stdout"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("describe takes one SERVICE or INSTANCE argument, got %d", c.NArg())
			}
			o, name, err := openProject(c, c.Args().Slice(), true)
			if err != nil {
				return err
			}
			desc, err := o.Describe(c.Context, name, c.Args().First())
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c, desc)
			}
			return writeDescription(c, desc)
		},
	}
}

func writeDescription(c *cli.Context, desc *orchestrator.ServiceDescription) error {
	w := c.App.Writer
	fmt.Fprintf(w, "Service:     %s\nRevision:    %s\nImage:       %s\n", desc.Service, revisionsLine(desc), desc.Image)
	if desc.FrontDoor != "" {
		fmt.Fprintf(w, "Front door:  %s", desc.FrontDoor)
		if len(desc.FrontDoorPorts) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(desc.FrontDoorPorts, ", "))
		}
		fmt.Fprintln(w)
	}
	if cfg := desc.Configuration; cfg != nil {
		fmt.Fprintln(w, "Configuration:")
		writeFields(w, configurationFields(cfg))
	}
	for _, inst := range desc.Instances {
		fmt.Fprintf(w, "\nInstance %s.%d (%s)\n", inst.Service, inst.Slot, inst.Name)
		fields := [][2]string{
			{"State", inst.State}, {"Health", inst.Health}, {"Revision", inst.Revision},
			{"Instance ID", inst.InstanceID}, {"Started", timeOrDash(inst.StartedAt)},
			{"Restarts", fmt.Sprint(inst.Restarts)}, {"Last exit", lastExit(inst)},
		}
		if inst.Backoff != "" {
			fields = append(fields, [2]string{"Backoff", inst.Backoff})
		}
		if inst.MemoryLimit > 0 {
			fields = append(fields, [2]string{"Memory limit", fmt.Sprintf("%d MiB", inst.MemoryLimit>>20)})
		}
		writeFields(w, fields)
		env, err := yaml.Marshal(slices.Sorted(slices.Values(inst.Environment)))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  Environment:\n%s", indentLines(string(env), "    "))
		fmt.Fprintf(w, "  Last log lines:\n%s", indentLines(strings.Join(inst.Logs, "\n")+"\n", "    "))
	}
	return nil
}

func writeFields(w io.Writer, fields [][2]string) {
	for _, f := range fields {
		fmt.Fprintf(w, "  %-13s %s\n", f[0]+":", f[1])
	}
}

// revisionsLine names the revision, and during a rollout every revision
// that runs with its instance count.
func revisionsLine(desc *orchestrator.ServiceDescription) string {
	if len(desc.Revisions) < 2 {
		return desc.Revision
	}
	var parts []string
	for _, rev := range slices.Sorted(maps.Keys(desc.Revisions)) {
		parts = append(parts, fmt.Sprintf("%s (%d)", rev, desc.Revisions[rev]))
	}
	return desc.Revision + "; running: " + strings.Join(parts, ", ")
}

func configurationFields(cfg *orchestrator.Configuration) [][2]string {
	fields := [][2]string{{"Image ID", cfg.ImageID}}
	if len(cfg.Entrypoint) > 0 {
		fields = append(fields, [2]string{"Entrypoint", strings.Join(cfg.Entrypoint, " ")})
	}
	fields = append(fields,
		[2]string{"Command", orDash(strings.Join(cfg.Command, " "))},
		[2]string{"Restart", orDash(cfg.Restart)},
		[2]string{"Min uptime", orDash(cfg.MinUptime)},
		[2]string{"Stop", cfg.StopSignal + ", grace period " + cfg.StopGrace},
		[2]string{"Healthcheck", orDash(cfg.Healthcheck)},
		[2]string{"Networks", orDash(strings.Join(cfg.Networks, ", "))},
	)
	if cfg.User != "" {
		fields = append(fields, [2]string{"User", cfg.User})
	}
	if cfg.CPUs > 0 {
		fields = append(fields, [2]string{"CPUs", strconv.FormatFloat(cfg.CPUs, 'f', -1, 64)})
	}
	if cfg.PidsLimit > 0 {
		fields = append(fields, [2]string{"PIDs limit", strconv.FormatInt(cfg.PidsLimit, 10)})
	}
	if cfg.ReadOnly {
		fields = append(fields, [2]string{"Root FS", "read-only"})
	}
	for _, m := range cfg.Mounts {
		fields = append(fields, [2]string{"Mount", m})
	}
	for _, key := range slices.Sorted(maps.Keys(cfg.Labels)) {
		fields = append(fields, [2]string{"Label", key + "=" + cfg.Labels[key]})
	}
	return fields
}

// lastExit renders an instance's last exit as "code 137 (OOMKilled) at
// TIME", or "-" when the engine reports none: the engine resets the exit
// code of a container that starts again.
func lastExit(inst orchestrator.InstanceDescription) string {
	if inst.ExitCode == 0 && inst.LastReason == "" && inst.State != orchestrator.StateExited {
		return "-"
	}
	line := fmt.Sprintf("code %d", inst.ExitCode)
	if inst.LastReason != "" {
		line += " (" + inst.LastReason + ")"
	}
	if inst.FinishedAt != "" {
		line += " at " + inst.FinishedAt
	}
	return line
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func indentLines(text, prefix string) string {
	lines := strings.SplitAfter(strings.TrimRight(text, "\n")+"\n", "\n")
	var b strings.Builder
	for _, line := range lines {
		if line != "" {
			b.WriteString(prefix + line)
		}
	}
	return b.String()
}
