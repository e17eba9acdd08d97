package pm2import

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// DefaultNodeMajor is the Node.js major version of the image of a Node.js
// app whose interpreter path names no version.
const DefaultNodeMajor = 22

// Options configures Translate.
type Options struct {
	// ComposeDir is the directory that the compose file and its env files
	// are written to. Bind mount sources are written relative to it. Empty
	// means the ecosystem file's directory.
	ComposeDir string
}

// Result is a translated ecosystem.
type Result struct {
	// Compose is the compose file, as YAML.
	Compose []byte
	// EnvFiles are the env files that Compose loads, by path relative to
	// ComposeDir. They may hold secrets, so write them with mode 0600.
	EnvFiles []EnvFile
	// Reports lists the options that were not translated: the ecosystem's
	// own first, then app by app in file order, each app's in key order.
	Reports []Report
}

// EnvFile is one env file to write beside the compose file.
type EnvFile struct {
	// Name is the file name, such as api.production.env.
	Name string
	// Content is the file's text in the env file format of Docker Compose.
	Content []byte
}

// Report is one option that Translate did not translate.
type Report struct {
	// App is the PM2 app's name, or empty for a top-level key.
	App string
	// Option is the key as written, such as watch.
	Option string
	// Reason is why the option is not translated and what to do instead.
	Reason string
}

// String returns the report as one line: "app NAME: option KEY is not
// translated: REASON".
func (r Report) String() string {
	owner := "ecosystem file"
	if r.App != "" {
		owner = "app " + r.App
	}
	return fmt.Sprintf("%s: option %s is not translated: %s", owner, r.Option, r.Reason)
}

// Translate converts eco into a compose file, the env files it loads, and a
// report for every option it could not translate, as the package
// documentation describes. It reads no file: cwd values are only resolved
// against the ecosystem file's directory. An invalid value returns an
// *InvalidError that names the app and the key.
func Translate(eco *Ecosystem, opts Options) (*Result, error) {
	if opts.ComposeDir == "" {
		opts.ComposeDir = filepath.Dir(eco.Path)
	}
	variants, err := variantNames(eco.Apps)
	if err != nil {
		return nil, withFile(err, eco.Path)
	}

	result := &Result{Reports: topLevelReports(eco)}
	services := make([]*service, 0, len(eco.Apps))
	owners := map[string]string{}
	for _, app := range eco.Apps {
		t := &appTranslator{app: app, eco: eco, opts: opts, variants: variants,
			handled: map[string]bool{}}
		svc, err := t.translate()
		if err != nil {
			return nil, withFile(err, eco.Path)
		}
		if err := claimNames(owners, app.Name, svc.name, t.envFiles); err != nil {
			return nil, withFile(err, eco.Path)
		}
		services = append(services, svc)
		result.EnvFiles = append(result.EnvFiles, t.envFiles...)
		result.Reports = append(result.Reports, t.reports...)
	}

	result.Compose, err = render(eco, services)
	if err != nil {
		return nil, err
	}
	return result, nil
}

// claimNames records the service name and env file names of app in owners,
// and returns an error naming the other app when one of them is taken.
func claimNames(owners map[string]string, app, service string, files []EnvFile) error {
	names := []string{"service name " + service}
	for _, file := range files {
		names = append(names, "env file name "+file.Name)
	}
	for _, name := range names {
		if owner, exists := owners[name]; exists {
			return appError(app, "name becomes the %s, which app %s already has; "+
				"give the apps names that differ in more than case and punctuation", name, owner)
		}
		owners[name] = app
	}
	return nil
}

func withFile(err error, path string) error {
	var invalid *InvalidError
	if errors.As(err, &invalid) && invalid.File == "" {
		invalid.File = path
	}
	return err
}

// appTranslator translates one app, recording each key it reads.
type appTranslator struct {
	app      App
	eco      *Ecosystem
	opts     Options
	variants []string
	handled  map[string]bool

	svc      *service
	port     int
	envFiles []EnvFile
	reports  []Report
}

func (t *appTranslator) translate() (*service, error) {
	t.svc = &service{name: serviceName(t.app.Name), app: t.app.Name}
	t.handled["name"] = true
	steps := []func() error{
		t.translateCommand, t.translateInstances, t.translateEnvironment,
		t.translateRestarts, t.translateStop, t.translateReadiness,
		t.translateLogging, t.translateUser,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	t.reportUnhandled()
	return t.svc, nil
}

// value returns the app's value for key and marks key as handled. ok is
// false when the key is absent or null.
func (t *appTranslator) value(key string) (value any, ok bool) {
	t.handled[key] = true
	value, ok = t.app.Options[key]
	return value, ok && value != nil
}

// invalid returns an *InvalidError for key of this app.
func (t *appTranslator) invalid(key string, err error) error {
	return &InvalidError{App: t.app.Name, Message: fmt.Sprintf("%s: %v", key, err), Err: err}
}

func (t *appTranslator) report(key, reason string) {
	t.reports = append(t.reports, Report{App: t.app.Name, Option: key, Reason: reason})
}

// reportUnhandled reports every key that no step read and that is set to
// something other than an off value.
func (t *appTranslator) reportUnhandled() {
	for _, key := range slices.Sorted(maps.Keys(t.app.Options)) {
		if t.handled[key] || isInert(t.app.Options[key]) {
			continue
		}
		t.report(key, unsupportedReason(key))
	}
}

// topLevelReports reports the top-level keys other than apps, and the
// variables that a JavaScript file read from its empty process.env.
func topLevelReports(eco *Ecosystem) []Report {
	var reports []Report
	for _, name := range eco.UnsetVariables {
		reports = append(reports, Report{Option: "process.env." + name, Reason: "the file read " +
			name + ", which is unset because the import evaluates it with an empty process.env; " +
			"write the value PM2 read from the shell into env or an env_NAME block"})
	}
	for _, key := range slices.Sorted(maps.Keys(eco.Extra)) {
		if isInert(eco.Extra[key]) {
			continue
		}
		reason := "clusterctl has no equivalent of this top-level key"
		if key == "deploy" {
			reason = "clusterctl does not deploy over SSH; copy the compose file and the app " +
				"to the host and run clusterctl up there"
		}
		reports = append(reports, Report{Option: key, Reason: reason})
	}
	return reports
}

// serviceNameInvalid matches the characters that a service name may not
// contain: Docker Compose allows [a-zA-Z0-9._-], and clusterctl lowercases
// names because they become DNS names and container name prefixes.
var serviceNameInvalid = regexp.MustCompile(`[^a-z0-9._-]+`)

// serviceName turns a PM2 app name into a compose service name: lowercase,
// with every run of other characters replaced by one dash, and starting
// and ending with a letter or digit. A name with neither becomes "app".
func serviceName(app string) string {
	name := serviceNameInvalid.ReplaceAllString(strings.ToLower(app), "-")
	name = strings.Trim(name, "-._")
	if name == "" {
		return "app"
	}
	return name
}
