package pm2import

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"time"

	"github.com/dop251/goja"
)

// EvalTimeout bounds the evaluation of a JavaScript ecosystem file, so that
// an endless loop fails instead of hanging the import. Ecosystem files
// build a literal, which takes milliseconds.
const EvalTimeout = 2 * time.Second

// maxCallDepth bounds JavaScript recursion.
const maxCallDepth = 1000

// sandboxHint ends every message about a host API that the file called.
const sandboxHint = "clusterctl evaluates ecosystem files without file, network or module access; " +
	"inline the values or convert the file to .json"

// evalJavaScript runs src as a CommonJS module and returns module.exports
// as a JSON-shaped value. It stops after EvalTimeout or when ctx ends.
func evalJavaScript(ctx context.Context, path string, src []byte) (any, error) {
	program, err := goja.Compile(filepath.Base(path), string(src), false)
	if err != nil {
		return nil, syntaxError(path, src, err)
	}

	vm := goja.New()
	vm.SetMaxCallStackSize(maxCallDepth)
	module := installGlobals(vm, path)

	evalCtx, cancel := context.WithTimeoutCause(ctx, EvalTimeout, errEvalTimeout)
	defer cancel()
	stop := context.AfterFunc(evalCtx, func() { vm.Interrupt(context.Cause(evalCtx)) })
	defer stop()

	if _, err := vm.RunProgram(program); err != nil {
		return nil, runError(ctx, path, err)
	}
	text, err := stringify(vm, module.Get("exports"))
	if err != nil {
		return nil, runError(ctx, path, err)
	}

	doc, err := decodeJSON([]byte(text))
	if err != nil {
		return nil, &InvalidError{File: path, Err: err,
			Message: "module.exports is not a JSON value; export an object with an apps list"}
	}
	return doc, nil
}

// errEvalTimeout is the cause of an evaluation that ran out of time.
var errEvalTimeout = errors.New("evaluation timed out")

// installGlobals defines the CommonJS and Node.js names that ecosystem files
// use and returns the module object.
func installGlobals(vm *goja.Runtime, path string) *goja.Object {
	module := vm.NewObject()
	exports := vm.NewObject()
	dir := filepath.Dir(path)
	must(module.Set("exports", exports))
	must(vm.Set("module", module))
	must(vm.Set("exports", exports))
	must(vm.Set("__filename", path))
	must(vm.Set("__dirname", dir))

	process := vm.NewObject()
	must(process.Set("env", vm.NewObject()))
	must(process.Set("cwd", func() string { return dir }))
	must(vm.Set("process", process))
	must(vm.Set("console", newConsole(vm)))

	must(vm.Set("require", func(call goja.FunctionCall) goja.Value {
		panic(vm.NewGoError(fmt.Errorf("require(%q) is not available: %s",
			call.Argument(0).String(), sandboxHint)))
	}))
	for _, name := range []string{"fetch", "XMLHttpRequest", "WebSocket"} {
		must(vm.Set(name, func(goja.FunctionCall) goja.Value {
			panic(vm.NewGoError(fmt.Errorf("%s is not available: %s", name, sandboxHint)))
		}))
	}
	return module
}

// newConsole returns a console whose methods log at debug level.
func newConsole(vm *goja.Runtime) *goja.Object {
	console := vm.NewObject()
	write := func(call goja.FunctionCall) goja.Value {
		args := make([]any, len(call.Arguments))
		for i, arg := range call.Arguments {
			args[i] = arg.String()
		}
		slog.Debug("ecosystem file console output", "text", fmt.Sprint(args...))
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

// stringify returns JSON.stringify(value).
func stringify(vm *goja.Runtime, value goja.Value) (string, error) {
	fn, ok := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("stringify"))
	if !ok {
		return "", errors.New("JSON.stringify is not a function")
	}
	text, err := fn(goja.Undefined(), value)
	if err != nil {
		return "", err
	}
	if goja.IsUndefined(text) {
		return "", errors.New("module.exports is undefined or a function; " +
			"assign an object with an apps list to module.exports")
	}
	return text.String(), nil
}

// esModuleSyntax matches the import and export statements of an ES module.
var esModuleSyntax = regexp.MustCompile(`(?m)^\s*(import\s.+\sfrom\s|import\s*["']|export\s)`)

func syntaxError(path string, src []byte, err error) error {
	message := fmt.Sprintf("invalid JavaScript: %v; fix the syntax or convert the file to .json", err)
	if esModuleSyntax.Match(src) {
		message = fmt.Sprintf("invalid JavaScript: %v; ES module syntax (import, export) is not "+
			"supported: write module.exports = {apps: [...]} instead", err)
	}
	return &InvalidError{File: path, Message: message, Err: err}
}

// runError describes an exception or interruption of the evaluation, with
// the line that raised it.
func runError(ctx context.Context, path string, err error) error {
	invalid := &InvalidError{File: path, Err: err}
	var (
		interrupted *goja.InterruptedError
		exception   *goja.Exception
	)
	switch {
	case errors.As(err, &interrupted) && ctx.Err() != nil:
		return fmt.Errorf("evaluate %s: %w", path, context.Cause(ctx))
	case errors.As(err, &interrupted):
		invalid.Message = fmt.Sprintf("evaluation did not finish within %s, as with an endless "+
			"loop; make module.exports a plain object or convert the file to .json", EvalTimeout)
	case errors.As(err, &exception):
		invalid.Line = exceptionLine(exception)
		invalid.Message = exceptionMessage(exception)
	default:
		invalid.Message = fmt.Sprintf("evaluation failed: %v", err)
	}
	return invalid
}

// exceptionMessage returns the message of a thrown Error, or the thrown
// value as text.
func exceptionMessage(exception *goja.Exception) string {
	value := exception.Value()
	if object, ok := value.(*goja.Object); ok {
		if goErr, ok := object.Export().(error); ok {
			return goErr.Error()
		}
	}
	var overflow *goja.StackOverflowError
	if errors.As(exception, &overflow) {
		return fmt.Sprintf("call depth exceeded %d, as with endless recursion; "+
			"make module.exports a plain object", maxCallDepth)
	}
	return fmt.Sprintf("uncaught exception: %s; fix the file, which runs without Node.js modules "+
		"or host APIs", value)
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
