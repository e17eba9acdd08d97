// Command worker is the demo workload of clusterctl: a small HTTP server that
// reports which instance served the request and exports traces and metrics
// through the OpenTelemetry SDK. The clusterctl tests also use it to act out
// slow starts, crashes, stuck shutdowns and memory exhaustion.
//
// Endpoints on $PORT (default 8080), each response with the header
// X-Instance-Id:
//
//	GET /            JSON {"service", "instance_id", "version", "slot", "hostname"}
//	GET /healthz     200 once ready, else 503 (also after SIGTERM)
//	GET /sleep?d=2s  the body of / after the delay d, a Go duration up to 10m
//
// In the body, service is OTEL_SERVICE_NAME. instance_id is
// service.instance.id from OTEL_RESOURCE_ATTRIBUTES, else the hostname.
// version is service.version from OTEL_RESOURCE_ATTRIBUTES, else
// DEMO_VERSION, else "dev". slot is CLUSTERCTL_INSTANCE as an integer, or
// null when it is unset.
//
// Telemetry is configured only by the standard OpenTelemetry variables:
// OTEL_EXPORTER_OTLP_ENDPOINT and its per-signal variants,
// OTEL_EXPORTER_OTLP_PROTOCOL (grpc or http/protobuf, the default),
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_METRIC_EXPORT_INTERVAL
// (milliseconds, SDK default 60000) and OTEL_SDK_DISABLED=true, which turns
// telemetry off. The Go SDK has no http/json exporter, so that protocol falls
// back to http/protobuf. Each request records one server span and adds one to
// the counter demo.worker.requests.
//
// Knobs for tests are read once at start. Durations are Go durations such as
// 1500ms.
//
//	DEMO_VERSION            version reported when service.version is absent
//	DEMO_READY_AFTER        delay before /healthz returns 200 (default 0)
//	DEMO_NEVER_READY=1      /healthz never returns 200
//	DEMO_CRASH_AFTER_READY  exit 1 this long after becoming ready
//	DEMO_EXIT_AFTER         exit this long after start, with DEMO_EXIT_CODE
//	DEMO_EXIT_CODE          exit code for DEMO_EXIT_AFTER, 0 to 255 (default 1)
//	DEMO_IGNORE_SIGTERM=1   log SIGTERM and keep serving, but SIGINT stops
//	DEMO_ALLOC_MB_PER_SEC   allocate and touch this many MiB each second, so a
//	                        memory limit gets the container OOM-killed
//
// On SIGTERM or SIGINT the worker turns /healthz to 503, stops accepting
// connections, waits up to 30s for in-flight requests, flushes telemetry and
// exits 0. An invalid variable exits 2. Every deliberate exit first logs
// "exiting with code N: reason". Logs are slog text lines on stdout.
//
// "worker -healthcheck" sends GET http://127.0.0.1:$PORT/healthz and exits 0
// on status 200, else 1, so that an image built FROM scratch can use the
// exec-form healthcheck ["CMD", "/worker", "-healthcheck"].
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"
)

// healthcheckTimeout bounds the -healthcheck request. The engine's own
// healthcheck timeout may end it sooner.
const healthcheckTimeout = 2 * time.Second

func main() {
	healthcheck := flag.Bool("healthcheck", false,
		"send GET http://127.0.0.1:$PORT/healthz and exit 0 on status 200, else 1")
	flag.Parse()

	if *healthcheck {
		url := "http://127.0.0.1:" + valueOr(os.Getenv("PORT"), defaultPort) + "/healthz"
		os.Exit(checkHealth(context.Background(), url, os.Stdout))
	}

	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stdout, nil)))
	os.Exit(run(context.Background()))
}

// checkHealth sends GET to url, prints the outcome to out for the engine's
// health log, and returns the exit code: 0 on status 200, else 1.
func checkHealth(ctx context.Context, url string, out io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(out, "healthcheck:", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(out, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()

	fmt.Fprintln(out, "healthcheck:", resp.Status)
	if resp.StatusCode != http.StatusOK {
		return 1
	}

	return 0
}
