package compose

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/errdefs"
	"github.com/compose-spec/compose-go/v2/template"
)

// translate turns an error of compose-go's loader into an *InvalidError
// that names the file, the key and the fix. Errors caused by ctx are
// returned wrapped, not as ErrInvalid.
func (l *projectLoader) translate(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("load compose files: %w", err)
	}

	var missing *template.MissingRequiredError
	if errors.As(err, &missing) {
		return l.missingVariable(missing, err)
	}
	if invalid := l.schemaError(err); invalid != nil {
		return invalid
	}
	if invalid := containerNameError(err); invalid != nil {
		return invalid
	}
	if invalid := l.knownLoaderError(err); invalid != nil {
		if invalid.path == nil {
			invalid.File = l.fileList()
		}
		return invalid
	}
	return l.loaderError(err)
}

// definesService reports whether a compose file defines the service, enabled
// or not.
func (l *projectLoader) definesService(name string) bool {
	for i := range l.sources {
		if depth, _ := l.sources[i].find([]string{"services", name}); depth == 2 {
			return true
		}
	}
	return false
}

// Patterns of compose-go errors that knownLoaderError rewrites.
var (
	undefinedDependency = regexp.MustCompile(`service "([^"]+)" depends on undefined service "([^"]+)"`)
	noImageNoBuild      = regexp.MustCompile(`service "([^"]+)" has neither an image nor a build context specified`)
	invalidSize         = regexp.MustCompile(`'services\[([^\]]+)\]\.([A-Za-z0-9_.]+)' invalid size: '([^']*)'`)
	invalidHostPort     = regexp.MustCompile(`invalid hostPort: (\S+)`)
)

// knownLoaderError rewrites compose-go errors that name neither the key nor
// the fix, or returns nil. Load fills in the file and line from the key.
func (l *projectLoader) knownLoaderError(err error) *InvalidError {
	text := err.Error()
	var invalid *InvalidError
	if m := undefinedDependency.FindStringSubmatch(text); m != nil && l.definesService(m[2]) {
		invalid = keyError([]string{"services", m[1], "depends_on"}, "service %s depends on %s, which is not "+
			"enabled because none of its profiles is; enable one with --profile, or set required: false "+
			"on the dependency", m[1], m[2])
	} else if m != nil {
		invalid = keyError([]string{"services", m[1], "depends_on"}, "service %s depends on %s, which the "+
			"file does not define; add a service %s, fix the name, or remove it from depends_on", m[1], m[2], m[2])
	} else if m := noImageNoBuild.FindStringSubmatch(text); m != nil {
		invalid = keyError([]string{"services", m[1]}, "service %s has neither image nor build; set image: to "+
			"an image on this engine, or build: to a directory with a Dockerfile", m[1])
	} else if m := invalidSize.FindStringSubmatch(text); m != nil {
		path := append([]string{"services", m[1]}, strings.Split(m[2], ".")...)
		invalid = keyError(path, "%s: %q is not a size; write a number with a unit, such as 512m or 2g",
			strings.Join(path, "."), m[3])
	} else if m := invalidHostPort.FindStringSubmatch(text); m != nil {
		invalid = &InvalidError{Message: fmt.Sprintf("published port %s is not a port; use a number from 1 "+
			"to 65535, as in \"127.0.0.1:8080:80\"", m[1])}
	}
	if invalid != nil {
		invalid.Err = err
	}
	return invalid
}

// interpolatedKey matches the key path in compose-go's interpolation error.
var interpolatedKey = regexp.MustCompile(`error while interpolating (\S+): required variable`)

// missingVariable reports a ${VAR:?message} or ${VAR?message} reference to
// a variable without a value, on the first line that references it.
func (l *projectLoader) missingVariable(missing *template.MissingRequiredError, err error) error {
	invalid := &InvalidError{File: l.fileList(), Err: err}
	for _, src := range l.sources {
		if line := src.findVariable(missing.Variable); line > 0 {
			invalid.File, invalid.Line = src.path, line
			break
		}
	}

	detail := missing.Reason
	if m := interpolatedKey.FindStringSubmatch(err.Error()); m != nil {
		invalid.Key = m[1]
		detail = strings.TrimSuffix(m[1]+": "+missing.Reason, ": ")
	}
	if detail != "" {
		detail = " (" + detail + ")"
	}
	invalid.Message = fmt.Sprintf("required variable %s has no value%s; "+
		"set %s in the environment, in the .env file of the project directory, "+
		"or in a file passed with --env-file",
		missing.Variable, detail, missing.Variable)
	return invalid
}

// schemaFailure matches compose-go's schema validation error, which reads
// "validating FILE: PATH PROBLEM". FILE may be a file that an include
// section names.
var schemaFailure = regexp.MustCompile(`(?s)^validating (.+?): (.*)$`)

// schemaError translates compose-go's schema validation error, or returns
// nil for any other error.
func (l *projectLoader) schemaError(err error) *InvalidError {
	m := schemaFailure.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}

	invalid := schemaProblem(strings.TrimSpace(m[2]))
	invalid.File, invalid.Err = m[1], err
	for _, src := range l.sources {
		if depth, line := src.find(invalid.path); src.path == m[1] && depth > 0 {
			invalid.Line = line
		}
	}
	return invalid
}

// additionalProperties matches the schema error for unknown keys in a
// mapping, such as "services.api.deploy additional properties 'bogus' not
// allowed".
var additionalProperties = regexp.MustCompile(
	`^(\S*)\s*additional propert(?:y|ies) '([^']+)'.* not allowed$`)

// schemaTypeNames fixes the grammar of compose-go's type errors, which
// write "must be a array".
var schemaTypeNames = strings.NewReplacer(
	" must be a array", " must be a list",
	" must be a integer", " must be an integer")

// schemaProblem turns the text of one schema error into an *InvalidError
// without a file.
func schemaProblem(text string) *InvalidError {
	if key, ok := strings.CutSuffix(text, " false schema"); ok {
		return unknownComposeKey(strings.Split(key, "."))
	}
	if m := additionalProperties.FindStringSubmatch(text); m != nil {
		return unknownComposeKey(append(splitKey(m[1]), m[2]))
	}

	key, _, _ := strings.Cut(text, " ")
	text = schemaTypeNames.Replace(text)
	return keyError(splitKey(key), "%s; fix the value as the Compose specification describes", text)
}

// containerNameConflict matches compose-go's error for container_name on a
// service with more than one replica. compose-go v2.16.2 swaps the service
// name and the attribute in it, so either group may hold the service name.
var containerNameConflict = regexp.MustCompile(
	`^services\.(\S+): can't set container_name and (\S+) as container name must be unique`)

// containerNameError rewrites compose-go's container_name error in the
// words Load uses when x-clusterctl.instances exceeds 1, or returns nil.
func containerNameError(err error) *InvalidError {
	m := containerNameConflict.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}

	service, attribute := m[1], m[2]
	if service == "scale" || service == "deploy.replicas" {
		service, attribute = attribute, service
	}
	invalid := keyError([]string{"services", service, "container_name"},
		"container_name cannot be used with %s above 1, because each instance needs "+
			"its own container name; remove container_name, and clusterctl gives each instance "+
			"a name that starts with <project>-%s-<slot>", attribute, service)
	invalid.Err = err
	return invalid
}

func unknownComposeKey(path []string) *InvalidError {
	return keyError(path, "unknown key %s; fix its spelling or remove it "+
		"(a custom key must start with x-)", strings.Join(path, "."))
}

func splitKey(key string) []string {
	if key == "" {
		return nil
	}
	return strings.Split(key, ".")
}

// loaderError wraps any other compose-go error. Its text names the problem
// but often neither the file nor the fix.
func (l *projectLoader) loaderError(err error) error {
	text := strings.TrimSuffix(err.Error(), ": "+errdefs.ErrInvalid.Error())
	message := text + "; fix the compose file"
	if text == "empty compose file" {
		message = "the compose files define nothing; add a services section"
	}

	invalid := &InvalidError{File: l.fileList(), Message: message, Err: err}
	for _, src := range l.sources {
		if strings.Contains(text, src.path) {
			invalid.File = ""
		}
	}
	return invalid
}
