package compose

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/clusterctl/clusterctl/internal/prose"
)

// DefaultDrainTimeout is the drain_timeout of a service that sets none.
const DefaultDrainTimeout = 30 * time.Second

// Options selects the compose files and the environment that Load reads.
// They match the global flags of the CLI.
type Options struct {
	// Files are the compose files (-f), merged in order. Empty means
	// COMPOSE_FILE from Environ, else discovery as in Docker Compose: the
	// first of compose.yaml, compose.yml, docker-compose.yml and
	// docker-compose.yaml in WorkingDir or the nearest parent directory that
	// has one, plus the compose.override.yaml (or .yml, or docker-compose.
	// override.*) beside it. Reading from stdin ("-") is not supported.
	Files []string
	// ProjectName is -p. It wins over COMPOSE_PROJECT_NAME, the top-level
	// name and the project directory's base name, in that order.
	ProjectName string
	// EnvFiles are --env-file files, read in order, a later file winning. When
	// empty, the .env file in the project directory is read if it exists.
	// Values from Environ win over values from env files.
	EnvFiles []string
	// Profiles are the --profile values that enable services. When empty,
	// COMPOSE_PROFILES from Environ or the env files applies.
	Profiles []string
	// WorkingDir replaces the process's current directory: discovery starts
	// there, and relative Files and EnvFiles resolve from it. Empty means the
	// process's current directory. The project directory, from which paths in
	// the files resolve and after which an unnamed project is named, is the
	// directory of the first compose file, as in Docker Compose without
	// --project-directory.
	WorkingDir string
	// Environ is the environment, as KEY=VALUE strings, for interpolation and
	// for the COMPOSE_* variables. Nil means os.Environ().
	Environ []string
}

// Load reads the compose files that opts selects, interpolates them,
// applies profiles and resolves the x-clusterctl extension of every enabled
// service. It reads local files only: it contacts no Docker engine and no
// network, resolves no image, and does not resolve "max" or negative
// instance counts, which need the engine's CPU count.
//
// A problem in the files or options returns an error that matches
// ErrInvalid and names the file, the key or value, and the fix. ctx is
// passed to compose-go's loader.
func Load(ctx context.Context, opts Options) (*Project, error) {
	l, err := newLoader(opts)
	if err != nil {
		return nil, err
	}

	project, err := l.load(ctx)
	if err != nil {
		return nil, l.locate(err)
	}

	slog.DebugContext(ctx, "compose project loaded", "project", project.Name,
		"files", project.ComposeFiles, "services", len(project.Services))
	return project, nil
}

// projectLoader carries one Load call's options and the compose files read.
type projectLoader struct {
	opts    Options
	env     map[string]string
	sources []source
}

func newLoader(opts Options) (*projectLoader, error) {
	if opts.WorkingDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("working directory: %w", err)
		}
		opts.WorkingDir = wd
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}

	wd, err := filepath.Abs(opts.WorkingDir)
	if err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	opts.WorkingDir = wd
	return &projectLoader{opts: opts, env: environMap(opts.Environ)}, nil
}

func environMap(environ []string) map[string]string {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

func (l *projectLoader) load(ctx context.Context) (*Project, error) {
	files, err := l.composeFiles()
	if err != nil {
		return nil, err
	}
	if err := l.readSources(files); err != nil {
		return nil, err
	}

	model, err := l.loadModel(ctx, files)
	if err != nil {
		return nil, err
	}

	services, err := resolveServices(model)
	if err != nil {
		return nil, err
	}
	if err := l.checkSources(services); err != nil {
		return nil, err
	}
	return &Project{
		Name:         model.Name,
		WorkingDir:   model.WorkingDir,
		ComposeFiles: files,
		Model:        model,
		Services:     services,
	}, nil
}

// composeFiles returns the absolute paths of the compose files: Files, else
// COMPOSE_FILE, else the files found by discovery.
func (l *projectLoader) composeFiles() ([]string, error) {
	if len(l.opts.Files) > 0 {
		return l.explicitFiles(l.opts.Files, "check the -f path")
	}
	if value := l.env[consts.ComposeFilePath]; value != "" {
		return l.explicitFiles(splitComposeFile(value, l.env), "check COMPOSE_FILE")
	}
	return l.discoverFiles()
}

func splitComposeFile(value string, env map[string]string) []string {
	separator := env[consts.ComposePathSeparator]
	if separator == "" {
		separator = string(os.PathListSeparator)
	}
	return strings.Split(value, separator)
}

// explicitFiles resolves files named by the user and checks that each is a
// regular file. fix is the advice for a missing file, naming the flag or
// variable that set it.
func (l *projectLoader) explicitFiles(files []string, fix string) ([]string, error) {
	paths := make([]string, 0, len(files))
	for _, file := range files {
		if file == "-" {
			return nil, &InvalidError{Message: "reading the compose file from stdin (-f -) " +
				"is not supported; write it to a file and pass that path"}
		}

		path := l.abs(file)
		if err := checkRegularFile(path, "compose file", fix); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func (l *projectLoader) abs(path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(l.opts.WorkingDir, path)
}

// checkRegularFile returns an *InvalidError unless path is a regular file.
// kind names the file in the message, such as "compose file".
func checkRegularFile(path, kind, fix string) error {
	info, err := os.Stat(path)
	var message string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		message = fmt.Sprintf("%s not found; %s", kind, fix)
	case err != nil:
		message = fmt.Sprintf("cannot read the %s: %v; %s", kind, err, fix)
	case !info.Mode().IsRegular():
		message = fmt.Sprintf("the %s is a directory or special file, not a regular file; %s",
			kind, fix)
	default:
		return nil
	}
	return &InvalidError{File: path, Message: message, Err: err}
}

// discoverFiles finds the compose file and its override file as Docker
// Compose does when no -f is given, using compose-go's search.
func (l *projectLoader) discoverFiles() ([]string, error) {
	options, err := cli.NewProjectOptions(nil,
		cli.WithWorkingDirectory(l.opts.WorkingDir),
		cli.WithDefaultConfigPath)
	if err != nil {
		return nil, fmt.Errorf("compose file discovery: %w", err)
	}
	if len(options.ConfigPaths) > 0 {
		return options.ConfigPaths, nil
	}

	return nil, &InvalidError{Message: fmt.Sprintf(
		"no compose file found in %s or its parent directories (looked for %s); "+
			"create one there or pass its path with -f",
		l.opts.WorkingDir, prose.JoinWords(cli.DefaultFileNames, "and"))}
}

func (l *projectLoader) readSources(files []string) error {
	for _, file := range files {
		src, err := readSource(file)
		if err != nil {
			return err
		}
		l.sources = append(l.sources, src)
	}
	return nil
}

// loadModel runs compose-go on files and translates its errors.
func (l *projectLoader) loadModel(ctx context.Context, files []string) (*types.Project, error) {
	options, err := l.projectOptions(files)
	if err != nil {
		return nil, err
	}

	model, err := options.LoadProject(ctx)
	if err != nil {
		return nil, l.translate(ctx, err)
	}
	return model, nil
}

// projectOptions builds compose-go's options. The order matters:
// cli.WithDotEnv reads only the files that cli.WithEnvFiles selected, and
// cli.WithEnvFiles without files selects the .env of the project
// directory, which is known only once the compose files are.
func (l *projectLoader) projectOptions(files []string) (*cli.ProjectOptions, error) {
	if err := l.checkProjectName(); err != nil {
		return nil, err
	}
	envFiles, err := l.envFiles()
	if err != nil {
		return nil, err
	}

	options, err := cli.NewProjectOptions(files,
		cli.WithEnv(l.opts.Environ),
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(l.opts.Profiles...),
		cli.WithName(l.opts.ProjectName))
	if err != nil {
		if len(envFiles) == 0 {
			envFiles = []string{filepath.Join(filepath.Dir(files[0]), ".env")}
		}
		return nil, envFileError(envFiles, err)
	}
	return options, nil
}

// envFileError reports an env file that compose-go could not parse. Its
// message repeats the path, which the error's File already names.
func envFileError(envFiles []string, err error) error {
	text := err.Error()
	for _, file := range envFiles {
		text = strings.TrimPrefix(text, "failed to read "+file+": ")
	}
	return &InvalidError{File: strings.Join(envFiles, ", "),
		Message: fmt.Sprintf("invalid env file: %s; fix the file", text), Err: err}
}

func (l *projectLoader) checkProjectName() error {
	return CheckProjectName(l.opts.ProjectName)
}

// CheckProjectName returns an invalid error for a project name that Docker
// Compose would not accept, which would also make invalid container names.
func CheckProjectName(name string) error {
	if name == loader.NormalizeProjectName(name) {
		return nil
	}
	return &InvalidError{Message: fmt.Sprintf(
		"invalid project name %q; use only lowercase letters, digits, dashes and underscores, "+
			"starting with a letter or digit", name)}
}

// envFiles resolves and checks the --env-file paths.
func (l *projectLoader) envFiles() ([]string, error) {
	paths := make([]string, 0, len(l.opts.EnvFiles))
	for _, file := range l.opts.EnvFiles {
		path := l.abs(file)
		if err := checkRegularFile(path, "env file", "check the --env-file path"); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// locate fills in the file and line of an *InvalidError that names a key
// but no file: the file that defines the most parts of the key's path wins,
// a later file winning a tie, as overrides apply in order.
func (l *projectLoader) locate(err error) error {
	var invalid *InvalidError
	if !errors.As(err, &invalid) || invalid.File != "" || invalid.path == nil {
		return err
	}

	best, bestDepth := -1, 0
	for i := range l.sources {
		depth, line := l.sources[i].find(invalid.path)
		if depth >= bestDepth && depth > 0 {
			best, bestDepth, invalid.Line = i, depth, line
		}
	}
	if best >= 0 && bestDepth >= min(2, len(invalid.path)) {
		invalid.File = l.sources[best].path
		return err
	}
	invalid.File, invalid.Line = l.fileList(), 0
	return err
}

func (l *projectLoader) fileList() string {
	paths := make([]string, len(l.sources))
	for i, src := range l.sources {
		paths[i] = src.path
	}
	return strings.Join(paths, ", ")
}
