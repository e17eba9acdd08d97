package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

const (
	instrumentationName = "github.com/clusterctl/clusterctl/deployments/demo/worker"
	protocolGRPC        = "grpc"
	protocolHTTP        = "http/protobuf"
	protocolHTTPJSON    = "http/json"
	defaultServiceName  = "demo-worker"

	// exportErrorLogInterval is the minimum time between two logged export
	// errors, so an unreachable collector does not flood the log.
	exportErrorLogInterval = 10 * time.Second
)

// telemetry is the worker's tracer, request counter and W3C trace context
// propagator, with the function that flushes and stops their exporters.
type telemetry struct {
	tracer     trace.Tracer
	requests   metric.Int64Counter
	propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// newTelemetry configures the OpenTelemetry SDK from the standard OTEL_*
// variables only. OTEL_SDK_DISABLED=true returns no-op instruments. The
// exporters read OTEL_EXPORTER_OTLP_ENDPOINT and its per-signal variants, and
// the metric reader reads OTEL_METRIC_EXPORT_INTERVAL, themselves. No
// connection is made here, so an unreachable collector is not an error.
func newTelemetry(ctx context.Context, getenv func(string) string) (*telemetry, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return newTelemetryFrom(tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider(), nil)
	}

	res, err := newResource(ctx)
	if err != nil {
		return nil, err
	}
	spanExporter, err := newSpanExporter(ctx, signalProtocol(getenv, "TRACES"))
	if err != nil {
		return nil, err
	}
	metricExporter, err := newMetricExporter(ctx, signalProtocol(getenv, "METRICS"))
	if err != nil {
		return nil, errors.Join(err, spanExporter.Shutdown(ctx))
	}

	tracerProvider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(spanExporter), sdktrace.WithResource(res))
	meterProvider := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExporter)), sdkmetric.WithResource(res))
	otel.SetErrorHandler(&exportErrorLog{interval: exportErrorLogInterval})

	shutdown := func(ctx context.Context) error {
		return errors.Join(tracerProvider.Shutdown(ctx), meterProvider.Shutdown(ctx))
	}

	return newTelemetryFrom(tracerProvider, meterProvider, shutdown)
}

func newTelemetryFrom(
	tracers trace.TracerProvider, meters metric.MeterProvider, shutdown func(context.Context) error,
) (*telemetry, error) {
	requests, err := meters.Meter(instrumentationName).Int64Counter("demo.worker.requests",
		metric.WithDescription("HTTP requests served by the demo worker"),
		metric.WithUnit("{request}"))
	if err != nil {
		return nil, fmt.Errorf("request counter: %w", err)
	}
	if shutdown == nil {
		shutdown = func(context.Context) error { return nil }
	}

	return &telemetry{
		tracer:   tracers.Tracer(instrumentationName),
		requests: requests,
		propagator: propagation.NewCompositeTextMapPropagator(
			propagation.TraceContext{}, propagation.Baggage{}),
		shutdown: shutdown,
	}, nil
}

// newResource describes the process from OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES, which win over the default service name. A
// malformed OTEL_RESOURCE_ATTRIBUTES pair is logged and skipped.
func newResource(ctx context.Context) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", defaultServiceName)),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(),
	)
	if errors.Is(err, resource.ErrPartialResource) {
		slog.Warn("telemetry resource is partial", "error", err)
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}

	return res, nil
}

// signalProtocol returns OTEL_EXPORTER_OTLP_<signal>_PROTOCOL, then
// OTEL_EXPORTER_OTLP_PROTOCOL, then http/protobuf, the default of the
// OpenTelemetry specification.
func signalProtocol(getenv func(string) string, signal string) string {
	for _, name := range []string{
		"OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL",
		"OTEL_EXPORTER_OTLP_PROTOCOL",
	} {
		if value := strings.TrimSpace(getenv(name)); value != "" {
			return value
		}
	}

	return protocolHTTP
}

// exportProtocol maps protocol to the one the worker uses. The Go OTLP
// exporters have no http/json, so it falls back to http/protobuf, which
// every OTLP/HTTP receiver accepts on the same endpoint.
func exportProtocol(protocol string) (string, error) {
	switch protocol {
	case protocolGRPC, protocolHTTP:
		return protocol, nil
	case protocolHTTPJSON:
		slog.Warn("OTLP protocol http/json is not supported by the Go SDK, using http/protobuf")
		return protocolHTTP, nil
	default:
		return "", fmt.Errorf(
			"invalid OTLP protocol %q: set OTEL_EXPORTER_OTLP_PROTOCOL to grpc or http/protobuf", protocol)
	}
}

func newSpanExporter(ctx context.Context, protocol string) (sdktrace.SpanExporter, error) {
	protocol, err := exportProtocol(protocol)
	if err != nil {
		return nil, err
	}
	var exporter sdktrace.SpanExporter
	if protocol == protocolGRPC {
		exporter, err = otlptracegrpc.New(ctx)
	} else {
		exporter, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("span exporter %s: %w", protocol, err)
	}

	return exporter, nil
}

func newMetricExporter(ctx context.Context, protocol string) (sdkmetric.Exporter, error) {
	protocol, err := exportProtocol(protocol)
	if err != nil {
		return nil, err
	}
	var exporter sdkmetric.Exporter
	if protocol == protocolGRPC {
		exporter, err = otlpmetricgrpc.New(ctx)
	} else {
		exporter, err = otlpmetrichttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("metric exporter %s: %w", protocol, err)
	}

	return exporter, nil
}

// exportErrorLog is an otel.ErrorHandler that logs at most one error per
// interval and counts the errors it skipped in between.
type exportErrorLog struct {
	interval time.Duration

	mu      sync.Mutex
	last    time.Time
	skipped int
}

// Handle logs err unless another error was logged less than interval ago.
func (l *exportErrorLog) Handle(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	if now := time.Now(); now.Sub(l.last) >= l.interval {
		slog.Warn("telemetry error", "error", err, "skipped_since_last", l.skipped)
		l.last = now
		l.skipped = 0
		return
	}
	l.skipped++
}
