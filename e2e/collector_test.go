//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// collector is the project's own OpenTelemetry Collector, on a network of
// its own that compose files join as an external network.
type collector struct {
	container testcontainers.Container
	// Network is the Docker network name; the collector's alias there is
	// otel-collector.
	Network string
}

// startCollector runs the collector image with testcontainers-go. It
// publishes no port: tests read what it received from its file exporter.
func startCollector(t testing.TB) *collector {
	t.Helper()
	ctx := context.Background()
	net, err := network.New(ctx)
	if err != nil {
		t.Fatalf("create collector network: %v", err)
	}
	t.Cleanup(func() { _ = net.Remove(context.Background()) })
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:          collectorImage,
			Networks:       []string{net.Name},
			NetworkAliases: map[string][]string{net.Name: {"otel-collector"}},
			WaitingFor:     wait.ForLog("Everything is ready").WithStartupTimeout(60 * time.Second),
		},
		Started: true,
	})
	if c != nil {
		t.Cleanup(func() { _ = testcontainers.TerminateContainer(c) })
	}
	if err != nil {
		t.Fatalf("start collector: %v", err)
	}
	return &collector{container: c, Network: net.Name}
}

// resource is the resource of one OTLP export request.
type resource map[string]string

// resources returns the resource attributes of every export request the
// collector wrote so far, spans and metrics alike, with the signal type.
func (c *collector) resources(t testing.TB) (spans, metrics []resource) {
	t.Helper()
	rc, err := c.container.CopyFileFromContainer(context.Background(), "/data/telemetry.jsonl")
	if err != nil {
		return nil, nil
	}
	defer rc.Close()
	return parseTelemetry(t, rc)
}

type otlpAttribute struct {
	Key   string `json:"key"`
	Value struct {
		StringValue string `json:"stringValue"`
	} `json:"value"`
}

type otlpResource struct {
	Resource struct {
		Attributes []otlpAttribute `json:"attributes"`
	} `json:"resource"`
}

func parseTelemetry(t testing.TB, r io.Reader) (spans, metrics []resource) {
	t.Helper()
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" {
			continue
		}
		var doc struct {
			ResourceSpans   []otlpResource `json:"resourceSpans"`
			ResourceMetrics []otlpResource `json:"resourceMetrics"`
		}
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Logf("skipping a telemetry line that is not OTLP JSON: %v", err)
			continue
		}
		for _, rs := range doc.ResourceSpans {
			spans = append(spans, toResource(rs))
		}
		for _, rm := range doc.ResourceMetrics {
			metrics = append(metrics, toResource(rm))
		}
	}
	return spans, metrics
}

func toResource(r otlpResource) resource {
	out := resource{}
	for _, a := range r.Resource.Attributes {
		out[a.Key] = a.Value.StringValue
	}
	return out
}
