package cli

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves a command's flags in front of its positional
// arguments, because urfave/cli stops reading flags at the first positional
// argument and Docker and kubectl users type `rollout history web --json`. Global flags and the command path stay where they
// are, and everything after "--" is left alone.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	i := 1
	for i < len(args) && isFlag(args[i]) {
		n := flagTokens(app.Flags, args, i)
		out = append(out, args[i:i+n]...)
		i += n
	}
	if i >= len(args) {
		return out
	}
	cmd := findCommand(app.Commands, args[i])
	if cmd == nil {
		return append(out, args[i:]...)
	}
	out = append(out, args[i])
	i++
	var flags, positional []string
	for i < len(args) {
		arg := args[i]
		switch {
		case arg == "--":
			positional = append(positional, args[i:]...)
			i = len(args)
		case isFlag(arg):
			n := flagTokens(cmd.Flags, args, i)
			flags = append(flags, args[i:i+n]...)
			i += n
		case len(positional) == 0 && findCommand(cmd.Subcommands, arg) != nil:
			out = append(append(out, flags...), arg)
			flags = nil
			cmd = findCommand(cmd.Subcommands, arg)
			i++
		default:
			positional = append(positional, arg)
			i++
		}
	}
	return append(append(out, flags...), positional...)
}

func isFlag(arg string) bool {
	return len(arg) > 1 && strings.HasPrefix(arg, "-")
}

// flagTokens returns how many tokens the flag at args[i] spans: two for a
// flag that takes a value given as the next token, else one.
func flagTokens(flags []cli.Flag, args []string, i int) int {
	name := strings.TrimLeft(args[i], "-")
	if strings.Contains(name, "=") || i+1 >= len(args) {
		return 1
	}
	for _, f := range flags {
		if !slices.Contains(f.Names(), name) {
			continue
		}
		if v, ok := f.(cli.DocGenerationFlag); ok && v.TakesValue() {
			return 2
		}
		return 1
	}
	return 1
}

func findCommand(commands []*cli.Command, name string) *cli.Command {
	for _, c := range commands {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
