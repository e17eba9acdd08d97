package pm2import

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// parseFile parses src as the file name in a temporary directory.
func parseFile(t testing.TB, ctx context.Context, name, src string) (*Ecosystem, error) {
	t.Helper()
	return Parse(ctx, filepath.Join(t.TempDir(), name), []byte(src))
}

func TestParse_InvalidFiles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file, src string
		want            []string
	}{
		{"no apps key", "e.json", `{"deploy": {}}`, []string{"no apps key"}},
		{"empty apps", "e.json", `{"apps": []}`, []string{"apps list is empty"}},
		{"apps not a list", "e.json", `{"apps": "api"}`, []string{`apps is "api"`}},
		{"scalar file", "e.yaml", `42`, []string{"contains 42"}},
		{"app not an object", "e.json", `[1]`, []string{"apps[0] is 1"}},
		{"missing script", "e.json", `[{"name": "api"}]`, []string{"app api:", "script is missing"}},
		{"empty script", "e.yaml", "apps:\n  - name: api\n    script: ''\n", []string{"app api:", "script is \"\""}},
		{"no name or script", "e.json", `[{"instances": 2}]`, []string{"app apps[0]:", "script is missing"}},
		{"name not a string", "e.json", `[{"name": 7, "script": "a.js"}]`, []string{"app apps[0]:", "name is 7"}},
		{"bad JSON", "e.json", `{"apps": [}`, []string{"invalid JSON"}},
		{"trailing JSON", "e.json", `[{"script": "a.js"}] []`, []string{"text after the top-level value"}},
		{"bad YAML", "e.yml", "apps: [\n", []string{"invalid YAML"}},
		{"unknown extension", "e.toml", `apps = []`, []string{`".toml"`, ".json"}},
		{"ES module file", "e.mjs", `export default {}`, []string{".mjs", "module.exports"}},
		{"JS without apps", "e.config.js", `module.exports = {}`, []string{"no apps key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseFile(t, t.Context(), tc.file, tc.src)

			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.file) {
				t.Errorf("error %q does not name the file %s", err, tc.file)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLoad_MissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(t.Context(), filepath.Join(t.TempDir(), "ecosystem.json"))
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want ErrInvalid wrapping os.ErrNotExist", err)
	}
}

func TestParse_JavaScriptRejected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, src string
		line      int
		want      []string
	}{
		{"require fs", "const fs = require('fs');\nmodule.exports = JSON.parse(fs.readFileSync('e.json'));",
			1, []string{`require("fs") is not available`, "without file, network or module access", ".json"}},
		{"require path", "const path = require('path');", 1, []string{`require("path") is not available`}},
		{"require child_process", "\n\nrequire('child_process').execSync('id');", 3,
			[]string{`require("child_process") is not available`}},
		{"fetch", "module.exports = fetch('http://127.0.0.1:9/apps.json');", 1,
			[]string{"fetch is not available", "network"}},
		{"XMLHttpRequest", "const r = new XMLHttpRequest();", 1, []string{"XMLHttpRequest is not available"}},
		{"process.binding", "process.binding('fs').open('/etc/passwd');", 1,
			[]string{"process.binding is not available"}},
		{"dynamic import", "import('fs').then((fs) => fs.readFileSync('/etc/passwd'));", 0,
			[]string{"invalid JavaScript", "ES module syntax"}},
		{"export default", "export default {apps: []};", 0, []string{"ES module syntax", "module.exports"}},
		{"syntax error", "module.exports = {apps: [\n", 0, []string{"invalid JavaScript", "SyntaxError"}},
		{"endless recursion", "function f() { return f(); }\nf();", 1, []string{"call depth exceeded"}},
		{"thrown error", "\nthrow new Error('no config');", 2, []string{"uncaught exception: Error: no config"}},
		{"undefined name", "module.exports = {apps: [{script: app}]};", 1, []string{"ReferenceError: app is not defined"}},
		{"function export", "module.exports = function () { return {apps: []}; };", 0,
			[]string{"module.exports is undefined or a function"}},
		{"circular export", "const a = {}; a.self = a; module.exports = a;", 1, []string{"circular"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseFile(t, t.Context(), "ecosystem.config.js", tc.src)

			var invalid *InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("error = %v, want *InvalidError", err)
			}
			if invalid.Line != tc.line {
				t.Errorf("line = %d, want %d (error %q)", invalid.Line, tc.line, err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestParse_JavaScriptEndlessLoop(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, src string }{
		{"loop", "while (true) {}"},
		{"loop in an exports getter", "Object.defineProperty(module, 'exports', {get() { for (;;) {} }});"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := parseFile(t, t.Context(), "ecosystem.config.js", tc.src)

			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "did not finish within 2s") {
				t.Errorf("error = %v, want ErrInvalid naming the 2s limit", err)
			}
			if elapsed := time.Since(start); elapsed > 10*EvalTimeout {
				t.Errorf("evaluation took %s, want it stopped near %s", elapsed, EvalTimeout)
			}
		})
	}
}

func TestParse_JavaScriptCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := parseFile(t, ctx, "ecosystem.config.js", "while (true) {}")

	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if errors.Is(err, ErrInvalid) {
		t.Errorf("error %v matches ErrInvalid, but the file is not at fault", err)
	}
}

func TestParse_JavaScriptForms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, src string
		want      map[string]any
		unset     []string
	}{
		{"bare array", "module.exports = [{name: 'api', script: 'app.js'}];",
			map[string]any{"script": "app.js"}, nil},
		{"exports property", "exports.apps = [{name: 'api', script: 'app.js'}];",
			map[string]any{"script": "app.js"}, nil},
		{"empty process.env", "module.exports = {apps: [{name: 'api', script: 'app.js', " +
			"env: {PORT: process.env.PORT || 3000, HOME: process.env.HOME}}]};",
			map[string]any{"env": map[string]any{"PORT": "3000"}}, []string{"HOME", "PORT"}},
		{"variable set by the file", "process.env.MODE = 'x'; module.exports = {apps: [{name: 'api', " +
			"script: 'app.js', env: {MODE: process.env.MODE}}]};",
			map[string]any{"env": map[string]any{"MODE": "x"}}, nil},
		{"dirname", "module.exports = {apps: [{name: 'api', script: 'app.js', cwd: __dirname + '/api', " +
			"args: [process.cwd() === __dirname]}]};",
			map[string]any{"args": []any{true}}, nil},
		{"console", "console.log('loading'); module.exports = {apps: [{name: 'api', script: 'app.js'}]};",
			map[string]any{"script": "app.js"}, nil},
		{"caught require", "let extra = {}; try { extra = require('./local.json'); } catch (e) {}\n" +
			"module.exports = {apps: [{name: 'api', script: 'app.js', ...extra}]};",
			map[string]any{"script": "app.js"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eco, err := parseFile(t, t.Context(), "ecosystem.config.js", tc.src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(eco.Apps) != 1 || eco.Apps[0].Name != "api" {
				t.Fatalf("apps = %+v, want one named api", eco.Apps)
			}
			if !slices.Equal(eco.UnsetVariables, tc.unset) {
				t.Errorf("unset variables = %q, want %q", eco.UnsetVariables, tc.unset)
			}
			for key, want := range tc.want {
				if got := eco.Apps[0].Options[key]; !equalJSON(got, want) {
					t.Errorf("%s = %#v, want %#v", key, got, want)
				}
			}
		})
	}
}

// equalJSON compares decoded JSON values, json.Number by its text.
func equalJSON(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for key := range w {
			if !equalJSON(g[key], w[key]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !equalJSON(g[i], w[i]) {
				return false
			}
		}
		return true
	case string:
		s, ok := got.(interface{ String() string })
		return got == want || (ok && s.String() == w)
	default:
		return got == want
	}
}

func TestParse_JavaScriptDirname(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "ecosystem.config.js")
	src := "module.exports = {apps: [{name: 'api', script: 'app.js', cwd: __dirname + '/api'}]};"

	eco, err := Parse(t.Context(), path, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := eco.Apps[0].Options["cwd"], filepath.Join(dir, "api"); got != want {
		t.Errorf("cwd = %v, want %s", got, want)
	}
}
