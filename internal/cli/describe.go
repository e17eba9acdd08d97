package cli

import (
	"fmt"
	"strings"

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
			o, name, err := openProject(c)
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
	fmt.Fprintf(w, "Service:     %s\nRevision:    %s\nImage:       %s\n", desc.Service, desc.Revision, desc.Image)
	if desc.FrontDoor != "" {
		fmt.Fprintf(w, "Front door:  %s\n", desc.FrontDoor)
	}
	for _, inst := range desc.Instances {
		fmt.Fprintf(w, "\nInstance %s.%d (%s)\n", inst.Service, inst.Slot, inst.Name)
		fields := [][2]string{
			{"State", inst.State}, {"Health", inst.Health}, {"Revision", inst.Revision},
			{"Instance ID", inst.InstanceID}, {"Restart policy", inst.RestartPolicy}, {"Min uptime", inst.MinUptime},
			{"Restarts", fmt.Sprint(inst.Restarts)}, {"Exit code", fmt.Sprint(inst.ExitCode)},
			{"Last reason", orDash(inst.LastReason)}, {"Backoff", orDash(inst.Backoff)},
		}
		if inst.MemoryLimit > 0 {
			fields = append(fields, [2]string{"Memory limit", fmt.Sprintf("%d MiB", inst.MemoryLimit>>20)})
		}
		for _, f := range fields {
			fmt.Fprintf(w, "  %-16s %s\n", f[0]+":", f[1])
		}
		env, err := yaml.Marshal(inst.Environment)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  Environment:\n%s", indentLines(string(env), "    "))
		fmt.Fprintf(w, "  Last log lines:\n%s", indentLines(strings.Join(inst.Logs, "\n")+"\n", "    "))
	}
	return nil
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
