package pm2import

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// EvalTimeout bounds the evaluation of a JavaScript ecosystem file, so that
// an endless loop fails instead of hanging the import. A file that builds
// an object literal finishes in about a millisecond.
const EvalTimeout = 2 * time.Second

// maxCallDepth bounds JavaScript recursion.
const maxCallDepth = 1000

// sandboxHint ends every message about a host API that the file called.
const sandboxHint = "clusterctl evaluates ecosystem files without file, network or module " +
	"access; inline the values or convert the file to .json"

// evalJavaScript runs src as a CommonJS module and returns module.exports
// as a JSON-shaped value, and the sorted names of the variables that the
// file read from process.env while they were unset. It stops after
// EvalTimeout or when ctx ends.
func evalJavaScript(ctx context.Context, path string, src []byte) (any, []string, error) {
	program, err := goja.Compile(filepath.Base(path), string(src), false)
	if err != nil {
		return nil, nil, syntaxError(path, src, err)
	}

	vm := goja.New()
	vm.SetMaxCallStackSize(maxCallDepth)
	unset := map[string]bool{}
	module := installGlobals(vm, path, unset)
	export, err := exporter(vm, module)
	if err != nil {
		return nil, nil, fmt.Errorf("prepare the JavaScript runtime: %w", err)
	}

	evalCtx, cancel := context.WithTimeoutCause(ctx, EvalTimeout, errEvalTimeout)
	defer cancel()
	stop := context.AfterFunc(evalCtx, func() { vm.Interrupt(context.Cause(evalCtx)) })
	defer stop()

	if _, err := vm.RunProgram(program); err != nil {
		return nil, nil, runError(ctx, path, err)
	}
	text, err := export()
	if err != nil {
		return nil, nil, runError(ctx, path, err)
	}
	if text == "" {
		return nil, nil, &InvalidError{File: path, Message: "module.exports is undefined or a " +
			"function; assign an object with an apps list to module.exports"}
	}

	doc, err := decodeJSON([]byte(text))
	return doc, slices.Sorted(maps.Keys(unset)), err
}

// errEvalTimeout is the cause of an evaluation that ran out of time.
var errEvalTimeout = errors.New("evaluation timed out")

// sandboxError is thrown by the stand-ins for host APIs.
type sandboxError struct {
	api string
}

func (e *sandboxError) Error() string {
	return e.api + " is not available: " + sandboxHint
}

// installGlobals defines the CommonJS and Node.js names that ecosystem files
// use and returns the module object. It adds to unset the name of every
// variable that the file reads from process.env without setting it first.
func installGlobals(vm *goja.Runtime, path string, unset map[string]bool) *goja.Object {
	module := vm.NewObject()
	exports := vm.NewObject()
	dir := filepath.Dir(path)
	must(module.Set("exports", exports))
	must(vm.Set("module", module))
	must(vm.Set("exports", exports))
	must(vm.Set("__filename", path))
	must(vm.Set("__dirname", dir))
	must(vm.Set("console", newConsole(vm)))

	reject := func(api string) { panic(vm.NewGoError(&sandboxError{api: api})) }
	process := vm.NewObject()
	must(process.Set("env", emptyEnvironment(vm, unset)))
	must(process.Set("cwd", func() string { return dir }))
	for _, name := range []string{"binding", "dlopen", "exit"} {
		must(process.Set(name, func(goja.FunctionCall) goja.Value {
			reject("process." + name)
			return nil
		}))
	}
	must(vm.Set("process", process))

	must(vm.Set("require", func(call goja.FunctionCall) goja.Value {
		reject(fmt.Sprintf("require(%q)", call.Argument(0).String()))
		return nil
	}))
	must(vm.Set("fetch", func(goja.FunctionCall) goja.Value { reject("fetch"); return nil }))
	for _, name := range []string{"XMLHttpRequest", "WebSocket"} {
		must(vm.Set(name, func(goja.ConstructorCall) *goja.Object { reject(name); return nil }))
	}
	return module
}

// emptyEnvironment returns the empty process.env, which records in unset
// each variable name that is read while it has no value.
func emptyEnvironment(vm *goja.Runtime, unset map[string]bool) goja.Proxy {
	return vm.NewProxy(vm.NewObject(), &goja.ProxyTrapConfig{
		Get: func(target *goja.Object, property string, _ goja.Value) goja.Value {
			value := target.Get(property)
			if value == nil && variableName.MatchString(property) {
				unset[property] = true
			}
			return value
		},
	})
}

// newConsole returns a console whose methods log at debug level.
func newConsole(vm *goja.Runtime) *goja.Object {
	console := vm.NewObject()
	write := func(call goja.FunctionCall) goja.Value {
		args := make([]string, len(call.Arguments))
		for i, arg := range call.Arguments {
			args[i] = arg.String()
		}
		slog.Debug("ecosystem file console output", "text", strings.Join(args, " "))
		return goja.Undefined()
	}
	for _, name := range []string{"log", "info", "warn", "error", "debug"} {
		must(console.Set(name, write))
	}
	return console
}

// must panics on an error from defining a global, which happens only for a
// frozen object and so is a bug here.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// exporter returns a function that returns JSON.stringify(module.exports),
// or "" when that is undefined. It holds the module object and
// JSON.stringify from before the file runs, so that the file cannot replace
// them, and it reads module.exports inside JavaScript, where a getter that
// loops is interrupted like the file itself.
func exporter(vm *goja.Runtime, module *goja.Object) (func() (string, error), error) {
	value, err := vm.RunString("(function (module, stringify) { return stringify(module.exports); })")
	if err != nil {
		return nil, err
	}
	fn, ok := goja.AssertFunction(value)
	if !ok {
		return nil, errors.New("the export helper is not a function")
	}
	stringify := vm.Get("JSON").ToObject(vm).Get("stringify")

	return func() (string, error) {
		text, err := fn(goja.Undefined(), module, stringify)
		if err != nil || goja.IsUndefined(text) {
			return "", err
		}
		return text.String(), nil
	}, nil
}

// esModuleSyntax matches the import and export statements of an ES module.
var esModuleSyntax = regexp.MustCompile(
	`(?m)^\s*(import\s.+\sfrom\s|import\s*["']|export\s)|\bimport\s*\(`)

func syntaxError(path string, src []byte, err error) error {
	message := fmt.Sprintf("invalid JavaScript: %v; fix the syntax or convert the file to .json", err)
	if esModuleSyntax.Match(src) {
		message = fmt.Sprintf("invalid JavaScript: %v; ES module syntax (import, export) is not "+
			"supported: write module.exports = {apps: [...]} instead", err)
	}
	return &InvalidError{File: path, Message: message, Err: err}
}

// runError describes an exception or interruption of the evaluation, with
// the line that raised it. An evaluation that ctx cancelled returns ctx's
// cause instead of an *InvalidError.
func runError(ctx context.Context, path string, err error) error {
	invalid := &InvalidError{File: path, Err: err}
	var (
		interrupted *goja.InterruptedError
		overflow    *goja.StackOverflowError
		rejected    *sandboxError
		exception   *goja.Exception
	)
	switch {
	case errors.As(err, &interrupted) && ctx.Err() != nil:
		return fmt.Errorf("evaluate %s: %w", path, context.Cause(ctx))
	case errors.As(err, &interrupted):
		invalid.Message = fmt.Sprintf("evaluation did not finish within %s, as with an endless "+
			"loop; make module.exports a plain object or convert the file to .json", EvalTimeout)
	case errors.As(err, &overflow):
		invalid.Line = exceptionLine(&overflow.Exception)
		invalid.Message = fmt.Sprintf("call depth exceeded %d, as with endless recursion; "+
			"make module.exports a plain object or convert the file to .json", maxCallDepth)
	case errors.As(err, &exception) && errors.As(err, &rejected):
		invalid.Line = exceptionLine(exception)
		invalid.Message = rejected.Error()
	case errors.As(err, &exception):
		invalid.Line = exceptionLine(exception)
		invalid.Message = fmt.Sprintf("uncaught exception: %s; fix the file, which runs "+
			"without Node.js modules or host APIs", exception.Value())
	default:
		invalid.Message = fmt.Sprintf("evaluation failed: %v", err)
	}
	return invalid
}

// exceptionLine returns the line of the innermost JavaScript frame, or 0.
func exceptionLine(exception *goja.Exception) int {
	for _, frame := range exception.Stack() {
		if line := frame.Position().Line; line > 0 {
			return line
		}
	}
	return 0
}
