package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/clusterctl/clusterctl/compose"
	"github.com/clusterctl/clusterctl/internal/pm2import"
)

// importPM2Help is the description of clusterctl import pm2. The raw
// string starts on its own line, so its first newline is trimmed.
var importPM2Help = strings.TrimPrefix(fmt.Sprintf(`
Reads a PM2 ecosystem file (.json, .yaml, .yml, .js or .cjs) and prints a compose file in which
every app is a service, every PM2 instance a container, and the PM2 settings that compose lacks
are under x-clusterctl. Fork and cluster mode both run one container per instance; a PORT set in
env is published on 127.0.0.1 through the service's front door.

A .js file is evaluated without file, network or module access, for at most %s: require() fails,
and process.env is empty, so the output does not depend on the shell that runs the import. Each
variable that the file reads from process.env is reported, because its value is missing.

Images: a Node.js app runs in node:MAJOR, with MAJOR from the interpreter path
(.nvm/versions/node/v22.11.0/bin/node gives 22) or %d. clusterctl does not pull images, so pull
them with docker pull before clusterctl up. The app directory (cwd) is mounted at /app.

Environments: an app without env_NAME blocks gets env as its environment. An app with them gets
env files beside the compose file (the directory of -o, else the current directory):
SERVICE.env with env, and SERVICE.NAME.env with env merged with env_NAME. PM2_ENV=NAME selects
one at up, as pm2 start --env NAME does, e.g. PM2_ENV=production clusterctl up, or a PM2_ENV
line in the .env file. Env files get mode 0600, and the command fails rather than overwrite an
existing one, unless --force is given.

Every option that is not translated is reported on stderr, one line each:
  app NAME: option KEY is not translated: REASON
  ecosystem file: option KEY is not translated: REASON    (top-level keys and process.env reads)
Reports do not change the exit code. An invalid ecosystem file exits with code 2.

`, pm2import.EvalTimeout, pm2import.DefaultNodeMajor), "\n")

func importCommand() *cli.Command {
	return &cli.Command{
		Name:        "import",
		Usage:       "translate another process manager's configuration into a compose file",
		Description: "Subcommands: pm2.\n\n" + exitCodesHelp,
		Subcommands: []*cli.Command{importPM2Command()},
	}
}

func importPM2Command() *cli.Command {
	return &cli.Command{
		Name:        "pm2",
		Usage:       "translate a PM2 ecosystem file into a compose file with x-clusterctl",
		ArgsUsage:   "ECOSYSTEM_FILE",
		Description: importPM2Help + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the compose file to " +
				"`FILE` instead of stdout; env files go to its directory"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite env files that already exist"},
		},
		Action: runImportPM2,
	}
}

func runImportPM2(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("import pm2 takes one ECOSYSTEM_FILE argument, got %d; "+
			"run clusterctl import pm2 --help for usage", c.NArg())
	}
	output := c.String("output")
	composeDir := "."
	if output != "" {
		composeDir = filepath.Dir(output)
	}

	eco, err := pm2import.Load(c.Context, c.Args().First())
	if err != nil {
		return importError(err)
	}
	result, err := pm2import.Translate(eco, pm2import.Options{ComposeDir: composeDir})
	if err != nil {
		return importError(err)
	}

	if err := writeEnvFiles(composeDir, result.EnvFiles, c.Bool("force")); err != nil {
		return err
	}
	if err := writeCompose(c, output, result.Compose); err != nil {
		return err
	}
	for _, report := range result.Reports {
		fmt.Fprintln(c.App.ErrWriter, report)
	}
	// A translation can be complete and still break a rule of clusterctl's,
	// such as two apps on one PORT, so the written file is loaded once.
	if output != "" {
		if _, err := compose.Load(c.Context, compose.Options{Files: []string{output}}); err != nil {
			fmt.Fprintf(c.App.ErrWriter, "warning: %s does not load as it is; fix this before clusterctl up: %v\n",
				output, err)
		}
	}
	return nil
}

// importError makes an invalid ecosystem file a usage error, exit code 2.
func importError(err error) error {
	if errors.Is(err, pm2import.ErrInvalid) {
		return usagef("%v", err)
	}
	return err
}

// writeEnvFiles writes the env files into dir with mode 0600, as they may
// hold secrets. Unless force is set, it writes none when one exists.
func writeEnvFiles(dir string, files []pm2import.EnvFile, force bool) error {
	for _, file := range files {
		path := filepath.Join(dir, file.Name)
		if _, err := os.Lstat(path); err == nil && !force {
			return usagef("env file %s already exists; remove it, or pass --force to overwrite it", path)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check env file %s: %w", path, err)
		}
	}

	for _, file := range files {
		path := filepath.Join(dir, file.Name)
		if err := os.WriteFile(path, file.Content, 0o600); err != nil {
			return fmt.Errorf("write env file: %w", err)
		}
		// WriteFile keeps the mode of a file that --force overwrites.
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("restrict env file %s to its owner: %w", path, err)
		}
		slog.Info("env file written", "path", path)
	}
	return nil
}

// writeCompose writes the compose file to output, or to stdout when output
// is empty.
func writeCompose(c *cli.Context, output string, data []byte) error {
	if output == "" {
		_, err := c.App.Writer.Write(data)
		return err
	}
	if err := os.WriteFile(output, data, 0o644); err != nil {
		return fmt.Errorf("write compose file: %w", err)
	}
	return nil
}
