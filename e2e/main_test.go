//go:build e2e

// Package e2e drives the real clusterctl binary against the real Docker
// engine, with the project's own collector started by testcontainers-go and
// real HTTP traffic through published loopback ports. Nothing here fakes
// Docker, and nothing is pulled: every image is built locally first.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

// Images the suite needs; the Makefile builds them before go test runs.
const (
	collectorImage = "clusterctl/otel-collector:dev"
	workerImage    = "clusterctl-e2e/worker:v1"
)

var (
	// clusterctlBin is the binary under test.
	clusterctlBin string
	// repoRoot is the repository's top directory.
	repoRoot string
	// engine is a Docker client for assertions and cleanup.
	engine *client.Client
)

func TestMain(m *testing.M) {
	// Ryuk is a pulled image, and without the host override testcontainers
	// dials a gateway address instead of loopback on this machine.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	if err := setUp(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func setUp() error {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))
	var err error
	engine, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := engine.Ping(ctx); err != nil {
		return fmt.Errorf("no Docker engine answers; the e2e suite needs one: %w", err)
	}
	if _, err := engine.ImageInspect(ctx, collectorImage); err != nil {
		return fmt.Errorf("image %s is missing; run make images first: %w", collectorImage, err)
	}
	clusterctlBin = os.Getenv("CLUSTERCTL")
	if clusterctlBin == "" {
		clusterctlBin = filepath.Join(repoRoot, "bin", "clusterctl")
		build := exec.Command("go", "build", "-o", clusterctlBin, "./cmd/clusterctl")
		build.Dir, build.Env = repoRoot, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("build clusterctl: %w\n%s", err, out)
		}
	}
	worker := filepath.Join(repoRoot, "deployments", "demo", "worker", "bin", "worker")
	if _, err := os.Stat(worker); err != nil {
		return fmt.Errorf("demo worker binary %s is missing; run make images first: %w", worker, err)
	}
	return nil
}
