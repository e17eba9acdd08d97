// Package cli wires clusterctl's commands, flags, signals and exit codes to
// the compose loader and the orchestrator. It holds no orchestration logic.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/clusterctl/clusterctl/compose"
	"github.com/clusterctl/clusterctl/internal/progress"
	"github.com/clusterctl/clusterctl/internal/telemetry"
	"github.com/clusterctl/clusterctl/orchestrator"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

const exitCodesHelp = `Exit codes: 0 success; 1 the operation failed (timeout, crash, engine error);
2 invalid usage or invalid compose file; 130 interrupted.`

// errInterrupted marks a run that the user stopped with a signal.
var errInterrupted = errors.New("interrupted")

// mutating is set once a command that changes the engine starts, so that an
// interrupt of a command that only reads, such as logs -f, ends it quietly.
var mutating atomic.Bool

// singleDashFlag matches a long flag name written with one dash, as the
// flag package writes every flag in its errors.
var singleDashFlag = regexp.MustCompile(`(^|\s)-([a-z][a-z0-9-]+)`)

// unknownCommand is the unknown command name that the parsing found, or
// empty.
var unknownCommand string

// jsonProgress is set by --progress json, which makes the final error a
// JSON event too.
var jsonProgress atomic.Bool

// Main runs clusterctl with args and returns the process exit code. The
// first SIGINT, SIGTERM or SIGHUP cancels the running command, which then
// removes what it half-created; a second one exits at once with code 130.
func Main(args []string, stdout, stderr io.Writer) int {
	mutating.Store(false)
	// A usage error can stop the parsing before setUpLogging reads
	// --progress, and its message must be a JSON event too.
	jsonProgress.Store(progressJSONIn(args))
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)
	go func() {
		sig, ok := <-signals
		if !ok {
			return
		}
		if mutating.Load() {
			notice(stderr, "warning", fmt.Sprintf("%s received: cancelling and cleaning up; "+
				"a second signal (Ctrl-C again) exits at once", sig))
		}
		cancel(errInterrupted)
		<-signals
		notice(stderr, "warning", "second signal: exiting without cleanup")
		os.Exit(ExitInterrupted)
	}()
	shutdown, err := telemetry.Setup(ctx, Version)
	if err != nil {
		fmt.Fprintf(stderr, "clusterctl: tracing disabled: %v\n", err)
	}
	app := newApp(stdout, stderr)
	unknownCommand = ""
	err = app.RunContext(ctx, interspersed(app, args))
	if err == nil && unknownCommand != "" {
		err = usagef("unknown command %q; run clusterctl --help for the list", unknownCommand)
	}
	flushCtx, cancelFlush := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancelFlush()
	if serr := shutdown(flushCtx); serr != nil {
		fmt.Fprintf(stderr, "clusterctl: export traces: %v\n", serr)
	}
	return exitCode(ctx, err, stderr)
}

func exitCode(ctx context.Context, err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	code, message := ExitFailed, err.Error()
	var usage usageError
	switch {
	case errors.Is(context.Cause(ctx), errInterrupted):
		code, message = ExitInterrupted, "interrupted: "+message
		// The error of a call that the interrupt cut short adds nothing to
		// "interrupted", such as the engine client's "error during connect: Post ...".
		if errors.Is(err, context.Canceled) || errors.Is(err, errInterrupted) ||
			strings.Contains(err.Error(), "error during connect") {
			message = "interrupted"
		}
	case errors.Is(err, compose.ErrInvalid), errors.Is(err, orchestrator.ErrNoRevision), errors.As(err, &usage):
		code = ExitUsage
	}
	if !jsonProgress.Load() {
		fmt.Fprintf(stderr, "clusterctl: %s\n", message)
		return code
	}
	// With --progress json, stderr stays one JSON object per line to the
	// end: the error is the last event.
	writeJSONEvent(stderr, commandEvent{Kind: "error", Message: message, ExitCode: code})
	return code
}

// commandEvent is a --progress json event of the command itself, rather
// than of the orchestrator's progress.
type commandEvent struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Slot    int       `json:"slot"`
	Message string    `json:"message"`
	// ExitCode is set on the final error event only.
	ExitCode int `json:"exit_code,omitempty"`
}

func writeJSONEvent(stderr io.Writer, e commandEvent) {
	e.Time, e.Slot = time.Now().UTC(), -1
	line, _ := json.Marshal(e)
	fmt.Fprintf(stderr, "%s\n", line)
}

// notice writes a message of the command itself to stderr: a JSON event
// with --progress json, else a line of text.
func notice(stderr io.Writer, kind, message string) {
	if !jsonProgress.Load() {
		fmt.Fprintf(stderr, "\n%s\n", message)
		return
	}
	writeJSONEvent(stderr, commandEvent{Kind: kind, Message: message})
}

// progressJSONIn reports whether the global flags in args ask for
// --progress json, read before the command line is parsed.
func progressJSONIn(args []string) bool {
	for i, arg := range args {
		switch arg {
		case "--progress", "-progress":
			if i+1 < len(args) && args[i+1] == "json" {
				return true
			}
		case "--progress=json", "-progress=json":
			return true
		}
	}
	return false
}

// usageError is a command-line mistake: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "clusterctl",
		Usage: "run every worker of a compose service as its own container, behind a front door",
		Description: "clusterctl reads a compose file, runs one container per instance through the Docker API,\n" +
			"injects OpenTelemetry settings into each, and balances requests over ready instances.\n\n" + exitCodesHelp,
		Writer:               stdout,
		ErrWriter:            stderr,
		Flags:                globalFlags(),
		Before:               setUpLogging,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			command := strings.Join(append([]string{"clusterctl"}, commandNames(c)...), " ")
			flag, undefined := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
			if !undefined {
				// The flag package prints every flag with one dash.
				message := singleDashFlag.ReplaceAllString(err.Error(), "$1--$2")
				return usagef("%s; run %s --help for usage", message, command)
			}
			name := strings.TrimLeft(flag, "-")
			flag = "-" + name
			if len(name) > 1 {
				flag = "--" + name
			}
			if isGlobalFlag(name) && command != "clusterctl" {
				return usagef("unknown flag %s for %s: it is a global flag, so put it before the command, "+
					"as in clusterctl %s VALUE %s", flag, command, flag, strings.TrimPrefix(command, "clusterctl "))
			}
			return usagef("unknown flag %s; run %s --help for the flags", flag, command)
		},
		CommandNotFound: func(_ *cli.Context, name string) {
			unknownCommand = name
		},
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			upCommand(), rolloutCommand(), scaleCommand(), psCommand(), logsCommand(), downCommand(),
			describeCommand(), monitCommand(), importCommand(), configCommand(), versionCommand(),
			frontDoorCommand(), probeCommand(), lockCommand(),
		},
	}
	setUsageErrors(app.Commands, app.OnUsageError)
	return app
}

// setUsageErrors gives every command and subcommand the app's handler of
// flag mistakes, because urfave/cli applies the app's handler to global
// flags only and would exit 1 on a command's unknown or invalid flag.
func setUsageErrors(commands []*cli.Command, handler cli.OnUsageErrorFunc) {
	for _, cmd := range commands {
		cmd.OnUsageError = handler
		setUsageErrors(cmd.Subcommands, handler)
	}
}

// isGlobalFlag reports whether name, without dashes, is a global flag.
func isGlobalFlag(name string) bool {
	for _, f := range globalFlags() {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "file", Aliases: []string{"f"}, Usage: "compose `FILE` (repeatable); default: compose.yaml and its override file, as Docker Compose finds them"},
		&cli.StringFlag{Name: "project-name", Aliases: []string{"p"}, Usage: "project `NAME`; default: COMPOSE_PROJECT_NAME, the top-level name, or the directory name"},
		&cli.StringSliceFlag{Name: "env-file", Usage: "`FILE` of variables for interpolation (repeatable); default: .env"},
		&cli.StringSliceFlag{Name: "profile", Usage: "enable services of profile `NAME` (repeatable)"},
		&cli.StringFlag{Name: "progress", Value: "auto", Usage: "progress output on stderr: auto, tty, plain or json"},
		&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "diagnostic log level: debug, info, warn or error"},
	}
}

func setUpLogging(c *cli.Context) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return usagef("invalid --log-level %q: use debug, info, warn or error", c.String("log-level"))
	}
	// Every command checks --progress, also those that print no progress.
	mode, err := progress.ParseMode(c.String("progress"))
	if err != nil {
		return usagef("%v", err)
	}
	jsonProgress.Store(mode == progress.ModeJSON)
	setUpLibraryLogging(level, mode == progress.ModeJSON)
	var handler slog.Handler = slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level})
	if mode == progress.ModeJSON {
		// Diagnostics stay one JSON object per line, as progress is.
		handler = slog.NewJSONHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level})
	}
	slog.SetDefault(slog.New(handler))
	return nil
}

// setUpLibraryLogging applies --log-level to logrus, which compose-go logs
// its warnings with, such as a variable that is not set. With --progress
// json those warnings become JSON events of kind warning, so that every
// line on stderr stays JSON.
func setUpLibraryLogging(level slog.Level, asJSON bool) {
	switch {
	case level <= slog.LevelDebug:
		logrus.SetLevel(logrus.DebugLevel)
	case level <= slog.LevelInfo:
		logrus.SetLevel(logrus.InfoLevel)
	case level <= slog.LevelWarn:
		logrus.SetLevel(logrus.WarnLevel)
	default:
		logrus.SetLevel(logrus.ErrorLevel)
	}
	if asJSON {
		logrus.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano, FieldMap: logrus.FieldMap{
			logrus.FieldKeyLevel: "kind", logrus.FieldKeyMsg: "message",
		}})
	} else {
		logrus.SetFormatter(&logrus.TextFormatter{})
	}
}

// loadProject loads the compose project that the global flags name.
func loadProject(c *cli.Context) (*compose.Project, error) {
	return compose.Load(c.Context, compose.Options{
		Files:       c.StringSlice("file"),
		ProjectName: c.String("project-name"),
		EnvFiles:    c.StringSlice("env-file"),
		Profiles:    c.StringSlice("profile"),
	})
}

// projectName returns the project's name for commands that only need the
// name: -p alone is enough, as with docker compose -p NAME down.
func projectName(c *cli.Context) (string, error) {
	if name := c.String("project-name"); name != "" && len(c.StringSlice("file")) == 0 {
		return name, compose.CheckProjectName(name)
	}
	p, err := loadProject(c)
	if err != nil {
		return "", err
	}
	return p.Name, nil
}

// projectServices returns the project's name and the names of the
// services in its compose file, those that a profile disables included.
// With -p and no -f it reads no file and returns no names.
func projectServices(c *cli.Context) (string, []string, error) {
	if name := c.String("project-name"); name != "" && len(c.StringSlice("file")) == 0 {
		return name, nil, compose.CheckProjectName(name)
	}
	p, err := loadProject(c)
	if err != nil {
		return "", nil, err
	}
	var names []string
	for _, svc := range p.Services {
		names = append(names, svc.Name)
	}
	if p.Model != nil {
		names = slices.AppendSeq(names, maps.Keys(p.Model.DisabledServices))
	}
	return p.Name, names, nil
}

// openProject returns an orchestrator without progress output and the
// project's name, for the commands that only read the engine. It fails
// with exit code 2 when a target is no service of the project, or, with
// instances set, no instance of one either.
func openProject(c *cli.Context, targets []string, instances bool) (*orchestrator.Orchestrator, string, error) {
	name, services, err := projectServices(c)
	if err != nil {
		return nil, "", err
	}
	o, err := newOrchestrator(c, nil)
	if err != nil {
		return nil, "", err
	}
	if err := o.CheckTargets(c.Context, name, services, targets, instances); err != nil {
		return nil, "", err
	}
	return o, name, nil
}

// newOrchestrator connects to the engine and wires progress and logging.
func newOrchestrator(c *cli.Context, report orchestrator.Reporter) (*orchestrator.Orchestrator, error) {
	engine, err := orchestrator.NewEngine()
	if err != nil {
		return nil, err
	}
	if _, err := engine.Ping(c.Context); err != nil {
		return nil, fmt.Errorf("no Docker engine responds at %s; start Docker or set DOCKER_HOST: %w", engine.DaemonHost(), err)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locate the clusterctl binary: %w", err)
	}
	return &orchestrator.Orchestrator{
		Engine: engine, Report: report, Logger: slog.Default(), Executable: exe, Version: Version,
	}, nil
}
