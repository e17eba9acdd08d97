package pm2import

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Ecosystem is a decoded PM2 ecosystem file.
type Ecosystem struct {
	// Path is the ecosystem file's path as given to Load or Parse.
	// Translate resolves relative cwd values from its directory.
	Path string
	// Apps are the entries of the apps list, in file order.
	Apps []App
	// Extra holds the top-level keys other than apps, such as deploy, which
	// Translate reports as not translated.
	Extra map[string]any
	// UnsetVariables are the variables that a JavaScript file read from its
	// empty process.env, sorted. Translate reports each, because the value
	// that PM2 would read from the shell is missing from the output.
	UnsetVariables []string
}

// App is one entry of the apps list.
type App struct {
	// Name is the name key, or the script's base name without its extension
	// when the app has none, as PM2 derives it.
	Name string
	// Options are the app's keys as decoded: every value is a map[string]any,
	// []any, string, json.Number, bool or nil, whatever the file's format.
	Options map[string]any
}

// Load reads and decodes the ecosystem file at path. Its extension selects
// the format: .json, .yaml, .yml, or .js and .cjs, which are evaluated as
// the package documentation describes, for at most EvalTimeout or until ctx
// ends. A problem in the file returns an *InvalidError.
func Load(ctx context.Context, path string) (*Ecosystem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &InvalidError{File: path, Err: err,
			Message: fmt.Sprintf("cannot read the ecosystem file: %v; check the path", err)}
	}
	return Parse(ctx, path, data)
}

// Parse decodes data as the content of the ecosystem file at path, as Load
// does. The file is not read: path selects the format and sets __dirname
// for JavaScript.
func Parse(ctx context.Context, path string, data []byte) (*Ecosystem, error) {
	doc, unset, err := decode(ctx, path, data)
	if err != nil {
		return nil, err
	}

	eco, err := newEcosystem(doc)
	if err != nil {
		var invalid *InvalidError
		if errors.As(err, &invalid) && invalid.File == "" {
			invalid.File = path
		}
		return nil, err
	}
	eco.Path, eco.UnsetVariables = path, unset
	return eco, nil
}

// decode returns the file's content as a JSON-shaped value, and for
// JavaScript the variables it read from the empty process.env.
func decode(ctx context.Context, path string, data []byte) (any, []string, error) {
	var (
		doc any
		err error
	)
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".json":
		doc, err = decodeJSON(data)
	case ".yaml", ".yml":
		doc, err = decodeYAML(data)
	case ".js", ".cjs":
		return evalJavaScript(ctx, path, data)
	case ".mjs":
		err = errors.New("ES module files (.mjs) are not supported; " +
			"write module.exports = {apps: [...]} in a .js file, or use a .json file")
	default:
		err = fmt.Errorf("unsupported file extension %q; "+
			"use a .json, .yaml, .yml, .js or .cjs ecosystem file", ext)
	}
	if err != nil {
		return nil, nil, &InvalidError{File: path, Message: err.Error(), Err: err}
	}
	return doc, nil, nil
}

// decodeJSON decodes exactly one JSON value, keeping numbers as
// json.Number so that integers stay exact.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w; fix the syntax", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: text after the top-level value; remove it")
	}
	return doc, nil
}

// decodeYAML decodes YAML and passes it through JSON, so that its values
// have the same Go types as a JSON file's.
func decodeYAML(data []byte) (any, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("invalid YAML: %w; fix the syntax", err)
	}
	text, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("unsupported YAML value: %w; use string keys and plain values", err)
	}
	return decodeJSON(text)
}

// newEcosystem checks the shape of a decoded file: an object with an apps
// list, or a bare list of apps, each an object with a script.
func newEcosystem(doc any) (*Ecosystem, error) {
	list, extra, err := appList(doc)
	if err != nil {
		return nil, err
	}

	eco := &Ecosystem{Extra: extra}
	for i, entry := range list {
		app, err := newApp(i, entry)
		if err != nil {
			return nil, err
		}
		eco.Apps = append(eco.Apps, app)
	}
	return eco, nil
}

// appList returns the apps list and the other top-level keys.
func appList(doc any) ([]any, map[string]any, error) {
	var (
		raw   any
		extra map[string]any
	)
	switch v := doc.(type) {
	case []any:
		raw = v
	case map[string]any:
		if _, ok := v["apps"]; !ok {
			return nil, nil, appError("", "the file has no apps key; "+
				"write {\"apps\": [{\"name\": \"api\", \"script\": \"app.js\"}]} or a bare list of apps")
		}
		raw, extra = v["apps"], maps.Clone(v)
		delete(extra, "apps")
	default:
		return nil, nil, appError("", "the file contains %s; it must contain an object with "+
			"an apps list, or a list of apps", describe(doc))
	}

	list, ok := raw.([]any)
	if object, isObject := raw.(map[string]any); isObject {
		list, ok = []any{object}, true
	}
	switch {
	case !ok:
		return nil, nil, appError("", "apps is %s; it must be a list of apps", describe(raw))
	case len(list) == 0:
		return nil, nil, appError("", "the apps list is empty; "+
			"add an app with at least a name and a script")
	}
	return list, extra, nil
}

// newApp checks one entry of the apps list. i is its index, which names the
// app in errors until its name is known.
func newApp(i int, entry any) (App, error) {
	options, ok := entry.(map[string]any)
	if !ok {
		return App{}, appError("", "apps[%d] is %s; each app must be an object "+
			"with at least a name and a script", i, describe(entry))
	}

	script, scriptOK := options["script"].(string)
	name, err := appName(i, options, script)
	if err != nil {
		return App{}, err
	}
	if !scriptOK || strings.TrimSpace(script) == "" {
		return App{}, appError(name, "script is %s; set it to the file PM2 runs, "+
			"such as \"script\": \"app.js\"", describeMissing(options["script"]))
	}
	return App{Name: name, Options: options}, nil
}

// appName returns the name key, or the script's base name without its
// extension, or "apps[i]" when the app has neither.
func appName(i int, options map[string]any, script string) (string, error) {
	raw, ok := options["name"]
	if !ok || raw == nil {
		base := filepath.Base(strings.TrimSpace(script))
		if name := strings.TrimSuffix(base, filepath.Ext(base)); script != "" && name != "" {
			return name, nil
		}
		return fmt.Sprintf("apps[%d]", i), nil
	}

	name, ok := raw.(string)
	if !ok || strings.TrimSpace(name) == "" {
		return "", appError(fmt.Sprintf("apps[%d]", i),
			"name is %s; set it to a non-empty string such as \"api\"", describe(raw))
	}
	return name, nil
}

// describe formats a decoded value for a message.
func describe(value any) string {
	switch v := value.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", v)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		return fmt.Sprint(v)
	}
}

// describeMissing is describe, with "missing" for an absent or null value.
func describeMissing(value any) string {
	if value == nil {
		return "missing"
	}
	return describe(value)
}
