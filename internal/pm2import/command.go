package pm2import

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// containerAppDir is the mount point of the app directory in the
// container, and the container's working directory.
const containerAppDir = "/app"

// runtimeImages maps the base name of an interpreter other than Node.js to
// the official image that provides it.
var runtimeImages = map[string]string{
	"python": "python:3", "python3": "python:3",
	"bash": "bash:5", "sh": "bash:5",
	"ruby": "ruby:3", "php": "php:8-cli", "perl": "perl:5", "bun": "oven/bun:1",
}

// extensionInterpreters maps a script extension to the interpreter that PM2
// runs it with. Every other extension runs with Node.js.
var extensionInterpreters = map[string]string{
	".py": "python", ".sh": "bash", ".rb": "ruby", ".php": "php", ".pl": "perl",
}

// nodeImageTools are the programs on the PATH of the node image that PM2
// apps start as scripts, such as script: npm with args: start.
var nodeImageTools = []string{"node", "npm", "npx", "yarn", "corepack"}

// nodeVersionInPath matches a version directory or file name in an
// interpreter path, such as .nvm/versions/node/v22.11.0/bin/node or
// /opt/node-v20.5.1-linux-x64/bin/node.
var nodeVersionInPath = regexp.MustCompile(`(?:^|[/-])v?(\d+)\.(\d+)\.(\d+)(?:$|[/-])`)

// nodeVersionInName matches an interpreter named after its major version,
// such as node20 or nodejs-18.
var nodeVersionInName = regexp.MustCompile(`^node(?:js)?-?(\d+)$`)

// translateCommand sets the image, the command and the bind mount of the
// app directory from script, interpreter, interpreter_args (or node_args),
// args and cwd.
func (t *appTranslator) translateCommand() error {
	t.handled["script"] = true
	script := strings.TrimSpace(t.app.Options["script"].(string))
	hostDir, err := t.appDir()
	if err != nil {
		return err
	}
	interpreter, interpreterArgs, err := t.interpreter()
	if err != nil {
		return err
	}
	args, err := t.arguments("args")
	if err != nil {
		return err
	}

	t.mountAppDir(hostDir)
	program := t.chooseImage(interpreter, script)
	if program == "" {
		t.reportInterpreterArgs(interpreterArgs)
		t.svc.command = slices.Concat([]string{t.containerPath(script, hostDir)}, args)
		return nil
	}
	t.svc.command = slices.Concat([]string{program}, interpreterArgs,
		[]string{t.containerPath(script, hostDir)}, args)
	return nil
}

// appDir returns the absolute host directory of the app: cwd, resolved from
// the ecosystem file's directory, or that directory.
func (t *appTranslator) appDir() (string, error) {
	base, err := filepath.Abs(filepath.Dir(t.eco.Path))
	if err != nil {
		return "", fmt.Errorf("resolve the ecosystem file's directory: %w", err)
	}
	raw, ok := t.value("cwd")
	if !ok {
		return base, nil
	}
	cwd, isString := raw.(string)
	if !isString || strings.TrimSpace(cwd) == "" {
		return "", t.invalid("cwd", fmt.Errorf("%s is not a directory path", describe(raw)))
	}
	if filepath.IsAbs(cwd) {
		return filepath.Clean(cwd), nil
	}
	return filepath.Join(base, cwd), nil
}

// mountAppDir bind-mounts the app directory at containerAppDir.
// The source is relative to the compose file when a relative path exists.
func (t *appTranslator) mountAppDir(hostDir string) {
	t.svc.mountSource = hostDir
	composeDir, err := filepath.Abs(t.opts.ComposeDir)
	if err != nil {
		return
	}
	rel, err := filepath.Rel(composeDir, hostDir)
	if err != nil {
		return
	}

	source := filepath.ToSlash(rel)
	if source != "." && source != ".." && !strings.HasPrefix(source, "../") {
		source = "./" + source
	}
	t.svc.mountSource = source
}

// interpreter returns the interpreter and its arguments: interpreter_args,
// or node_args, its older name.
func (t *appTranslator) interpreter() (string, []string, error) {
	interpreter := ""
	if raw, ok := t.value("interpreter"); ok {
		s, isString := raw.(string)
		if !isString {
			return "", nil, t.invalid("interpreter", fmt.Errorf("%s is not a program name or path",
				describe(raw)))
		}
		interpreter = strings.TrimSpace(s)
	}

	args, err := t.arguments("interpreter_args")
	if err != nil {
		return "", nil, err
	}
	nodeArgs, err := t.arguments("node_args")
	if err != nil {
		return "", nil, err
	}
	if len(args) > 0 && len(nodeArgs) > 0 && !slices.Equal(args, nodeArgs) {
		return "", nil, t.invalid("node_args", fmt.Errorf("node_args and interpreter_args are two "+
			"names of one option and differ here; keep one of them"))
	}
	if len(args) == 0 {
		args = nodeArgs
	}
	return interpreter, args, nil
}

// arguments parses the argument list at key.
func (t *appTranslator) arguments(key string) ([]string, error) {
	raw, _ := t.value(key)
	args, err := parseArguments(raw)
	if err != nil {
		return nil, t.invalid(key, err)
	}
	return args, nil
}

// chooseImage sets the image for the interpreter, or for the script's
// extension when interpreter is empty, and returns the program that runs
// the script. It returns "" when the script is itself the program: with
// interpreter none, or a script name without a path or an extension, which
// PM2 looks up on the PATH, such as npm.
func (t *appTranslator) chooseImage(interpreter, script string) string {
	base := path.Base(filepath.ToSlash(interpreter))
	switch {
	case interpreter == "none":
		t.useProgram(script)
		return ""
	case interpreter == "" && filepath.Ext(script) == "" && !strings.ContainsRune(script, '/'):
		t.useProgram(script)
		return ""
	case interpreter == "":
		base = "node"
		if by, ok := extensionInterpreters[strings.ToLower(filepath.Ext(script))]; ok {
			base = by
		}
	}

	if image, ok := runtimeImages[base]; ok {
		t.svc.image = image
		return base
	}
	t.useNode(interpreter)
	if isNodeInterpreter(base) {
		return "node"
	}
	t.report("interpreter", fmt.Sprintf("no image is known for %s, so the service runs %s in "+
		"%s; set image to one that contains it", interpreter, base, t.svc.image))
	return base
}

// useProgram runs the script as a program of the node image.
func (t *appTranslator) useProgram(script string) {
	t.useNode("")
	if !slices.Contains(nodeImageTools, script) {
		t.report("script", fmt.Sprintf("PM2 runs %s as a program, which %s may not contain; "+
			"set image to one that does", script, t.svc.image))
	}
}

// useNode sets the node image, with the major version that the interpreter
// path names, or DefaultNodeMajor.
func (t *appTranslator) useNode(interpreter string) {
	major, version := nodeVersion(interpreter)
	if major == 0 {
		t.svc.image = fmt.Sprintf("node:%d", DefaultNodeMajor)
		t.svc.imageComment = fmt.Sprintf("No interpreter path names a Node.js version, "+
			"so the default, %d, is used.", DefaultNodeMajor)
		return
	}
	t.svc.image = fmt.Sprintf("node:%d", major)
	t.svc.imageComment = fmt.Sprintf("Node.js %d, from the interpreter %s.", major, interpreter)
	if version != "" {
		t.svc.imageComment += fmt.Sprintf(" Use node:%s to pin the exact release.", version)
	}
}

func isNodeInterpreter(base string) bool {
	return base == "node" || base == "nodejs" || nodeVersionInName.MatchString(base)
}

// nodeVersion returns the major version and the full version that a Node.js
// interpreter path names, or 0 and "" when it names none.
func nodeVersion(interpreter string) (int, string) {
	slashed := filepath.ToSlash(interpreter)
	if !isNodeInterpreter(path.Base(slashed)) {
		return 0, ""
	}
	if m := nodeVersionInName.FindStringSubmatch(path.Base(slashed)); m != nil {
		major, _ := strconv.Atoi(m[1])
		return major, ""
	}
	if m := nodeVersionInPath.FindStringSubmatch(slashed); m != nil {
		major, _ := strconv.Atoi(m[1])
		return major, m[1] + "." + m[2] + "." + m[3]
	}
	return 0, ""
}

// containerPath returns where a script path of the host is in the
// container. A relative path stays relative to the working directory. A
// path outside the app directory is reported and kept as written.
func (t *appTranslator) containerPath(script, hostDir string) string {
	if !strings.ContainsRune(script, '/') {
		return script
	}
	rel := filepath.Clean(script)
	if filepath.IsAbs(script) {
		var err error
		if rel, err = filepath.Rel(hostDir, script); err != nil {
			rel = ".."
		}
	}
	if rel == ".." || strings.HasPrefix(rel, "../") {
		t.report("script", fmt.Sprintf("%s is outside the app directory %s, which is the only host "+
			"directory mounted in the container; set cwd to a directory that contains it",
			script, hostDir))
		return script
	}
	if filepath.IsAbs(script) {
		return path.Join(containerAppDir, filepath.ToSlash(rel))
	}
	return script
}

// reportInterpreterArgs reports interpreter arguments of a script that runs
// as a program, which has no interpreter to pass them to.
func (t *appTranslator) reportInterpreterArgs(args []string) {
	if len(args) == 0 {
		return
	}
	key := "interpreter_args"
	if _, ok := t.app.Options["node_args"]; ok {
		key = "node_args"
	}
	t.report(key, "the script runs as a program, without an interpreter to pass them to; "+
		"add them to args if the program accepts them")
}
