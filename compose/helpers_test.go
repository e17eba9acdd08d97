package compose

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles writes files, keyed by slash-separated path, under a new
// temporary directory and returns that directory.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// load runs Load with an empty environment unless opts sets one, so that
// the test does not depend on the COMPOSE_* variables of the process.
func load(t testing.TB, opts Options) (*Project, error) {
	t.Helper()
	if opts.Environ == nil {
		opts.Environ = []string{}
	}
	return Load(t.Context(), opts)
}

func mustLoad(t testing.TB, opts Options) *Project {
	t.Helper()
	p, err := load(t, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

// loadCompose loads a project from one compose.yaml with content.
func loadCompose(t testing.TB, content string) *Project {
	t.Helper()
	dir := writeFiles(t, map[string]string{"compose.yaml": content})
	return mustLoad(t, Options{WorkingDir: dir})
}

// loadService loads a compose.yaml with content and returns its service name.
func loadService(t testing.TB, content, name string) Service {
	t.Helper()
	p := loadCompose(t, content)
	svc, ok := p.Service(name)
	if !ok {
		t.Fatalf("service %s not loaded; have %v", name, serviceNames(p.Services))
	}
	return *svc
}

// requireInvalid fails unless err matches ErrInvalid, is an *InvalidError,
// and its message contains every string in wants.
func requireInvalid(t testing.TB, err error, wants ...string) *InvalidError {
	t.Helper()
	if err == nil {
		t.Fatal("err = nil, want an error that matches ErrInvalid")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("errors.Is(err, ErrInvalid) = false for %T: %v", err, err)
	}
	var invalid *InvalidError
	if !errors.As(err, &invalid) {
		t.Fatalf("err is %T, want *InvalidError: %v", err, err)
	}
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	return invalid
}

func serviceNames(services []Service) []string {
	names := make([]string, len(services))
	for i, svc := range services {
		names[i] = svc.Name
	}
	return names
}
