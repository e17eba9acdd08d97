package pm2import

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// translateDoc writes doc as ecosystem.json in a temporary directory, then
// loads and translates it there.
func translateDoc(t testing.TB, doc any) (*Result, error) {
	t.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ecosystem.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	eco, err := Load(t.Context(), path)
	if err != nil {
		return nil, err
	}
	return Translate(eco, Options{})
}

// translateApp translates an ecosystem with one app, api, whose script is
// app.js, plus options, and fails the test on an error.
func translateApp(t testing.TB, options map[string]any) *Result {
	t.Helper()
	app := map[string]any{"name": "api", "script": "app.js"}
	for key, value := range options {
		app[key] = value
	}
	result, err := translateDoc(t, map[string]any{"apps": []any{app}})
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	return result
}

// parseYAML decodes a compose file.
func parseYAML(t testing.TB, data []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("the compose file is not valid YAML: %v\n%s", err, data)
	}
	return doc
}

// lookup returns the value at the key path of a compose file, or nil.
func lookup(t testing.TB, compose []byte, path ...string) any {
	t.Helper()
	var value any = parseYAML(t, compose)
	for _, key := range path {
		mapping, ok := value.(map[string]any)
		if !ok {
			return nil
		}
		value = mapping[key]
	}
	return value
}

// writeResult writes the compose file and its env files into dir and
// returns the compose file's path.
func writeResult(t testing.TB, dir string, result *Result) string {
	t.Helper()
	path := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, result.Compose, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range result.EnvFiles {
		if err := os.WriteFile(filepath.Join(dir, file.Name), file.Content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path
}
