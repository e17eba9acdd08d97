package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// testTelemetry records spans and metrics in memory.
type testTelemetry struct {
	*telemetry
	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
}

func newTestTelemetry(t testing.TB) testTelemetry {
	t.Helper()

	spans := tracetest.NewSpanRecorder()
	metrics := sdkmetric.NewManualReader()
	tracerProvider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	meterProvider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(metrics))
	t.Cleanup(func() {
		_ = tracerProvider.Shutdown(context.Background())
		_ = meterProvider.Shutdown(context.Background())
	})

	tel, err := newTelemetryFrom(tracerProvider, meterProvider, nil)
	if err != nil {
		t.Fatalf("newTelemetryFrom: %v", err)
	}

	return testTelemetry{telemetry: tel, spans: spans, metrics: metrics}
}

func newTestWorker(t testing.TB, ready bool) (*worker, testTelemetry) {
	t.Helper()

	slot := 2
	tel := newTestTelemetry(t)
	w := &worker{
		cfg: config{
			service: "web", instanceID: "web-2-abc", version: "v1", slot: &slot, hostname: "host-a",
		},
		tel: tel.telemetry,
	}
	w.ready.Store(ready)

	return w, tel
}

func serve(t testing.TB, w *worker, target string) *httptest.ResponseRecorder {
	t.Helper()

	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
	w.handler().ServeHTTP(rec, req)

	return rec
}

func TestHandler_Info(t *testing.T) {
	t.Parallel()
	w, _ := newTestWorker(t, true)

	rec := serve(t, w, "/")

	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	want := `{"service":"web","instance_id":"web-2-abc","version":"v1",` +
		`"slot":2,"hostname":"host-a"}` + "\n"
	if rec.Body.String() != want {
		t.Errorf("body = %s, want %s", rec.Body, want)
	}
}

func TestHandler_InfoNullSlot(t *testing.T) {
	t.Parallel()
	w, _ := newTestWorker(t, true)
	w.cfg.slot = nil

	rec := serve(t, w, "/")

	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("decode body %q: %v", rec.Body, err)
	}
	slot, found := body["slot"]
	if !found || slot != nil {
		t.Errorf("slot = %v (present %t), want null", slot, found)
	}
}

func TestHandler_InstanceIDHeader(t *testing.T) {
	t.Parallel()

	for _, target := range []string{"/", "/healthz", "/sleep?d=0s", "/sleep?d=bad", "/missing"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			w, _ := newTestWorker(t, true)

			rec := serve(t, w, target)

			if got := rec.Header().Get("X-Instance-Id"); got != "web-2-abc" {
				t.Errorf("X-Instance-Id = %q, want web-2-abc", got)
			}
		})
	}
}

func TestHandler_Health(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		ready    bool
		stopping bool
		want     int
	}{
		{"ready", true, false, http.StatusOK},
		{"not ready", false, false, http.StatusServiceUnavailable},
		{"stopping", true, true, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, _ := newTestWorker(t, tt.ready)
			w.stopping.Store(tt.stopping)

			rec := serve(t, w, "/healthz")

			if rec.Code != tt.want {
				t.Errorf("status = %d, want %d", rec.Code, tt.want)
			}
		})
	}
}

func TestHandler_NotFound(t *testing.T) {
	t.Parallel()
	w, _ := newTestWorker(t, true)

	rec := serve(t, w, "/missing")

	if rec.Code != http.StatusNotFound {
		t.Errorf("status = %d, want 404", rec.Code)
	}
}

func TestHandler_SleepWaits(t *testing.T) {
	t.Parallel()
	w, _ := newTestWorker(t, true)
	const delay = 50 * time.Millisecond

	started := time.Now()
	rec := serve(t, w, "/sleep?d=50ms")
	elapsed := time.Since(started)

	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	if elapsed < delay {
		t.Errorf("responded after %s, want at least %s", elapsed, delay)
	}
	var body info
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("decode body %q: %v", rec.Body, err)
	}
	if body.InstanceID != "web-2-abc" {
		t.Errorf("instance_id = %q, want web-2-abc", body.InstanceID)
	}
}

func TestHandler_SleepInvalidDelay(t *testing.T) {
	t.Parallel()

	targets := []string{"/sleep", "/sleep?d=", "/sleep?d=2", "/sleep?d=-1s", "/sleep?d=11m"}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			w, _ := newTestWorker(t, true)

			rec := serve(t, w, target)

			if rec.Code != http.StatusBadRequest {
				t.Errorf("status = %d, want 400", rec.Code)
			}
		})
	}
}

func TestHandler_SleepClientGone(t *testing.T) {
	t.Parallel()
	w, _ := newTestWorker(t, true)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	done := make(chan struct{})
	go func() {
		defer close(done)
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/sleep?d=10m", nil)
		w.handler().ServeHTTP(httptest.NewRecorder(), req)
	}()

	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("/sleep kept waiting after the request context was canceled")
	}
}

func TestInstrument_RecordsSpanAndCount(t *testing.T) {
	t.Parallel()
	w, tel := newTestWorker(t, false)

	serve(t, w, "/healthz")
	serve(t, w, "/healthz")
	serve(t, w, "/")

	spans := tel.spans.Ended()
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want 3", len(spans))
	}
	if spans[0].Name() != "GET /healthz" {
		t.Errorf("span name = %q, want GET /healthz", spans[0].Name())
	}
	if spans[2].Name() != "GET /" {
		t.Errorf("span name = %q, want GET /", spans[2].Name())
	}
	status := attributeOf(spans[0].Attributes(), "http.response.status_code")
	if status.AsInt64() != http.StatusServiceUnavailable {
		t.Errorf("span status code = %v, want 503", status.String())
	}

	counts := requestCounts(t, tel.metrics)
	if counts["/healthz"] != 2 {
		t.Errorf("count for /healthz = %d, want 2", counts["/healthz"])
	}
	if counts["/"] != 1 {
		t.Errorf("count for / = %d, want 1", counts["/"])
	}
}

func TestInstrument_ContinuesPropagatedTrace(t *testing.T) {
	t.Parallel()
	w, tel := newTestWorker(t, true)
	const traceID = "5b8efff798038103d269b633813fc60c"

	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-eee19b7ec3c1b174-01")
	w.handler().ServeHTTP(httptest.NewRecorder(), req)

	spans := tel.spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	if got := spans[0].SpanContext().TraceID().String(); got != traceID {
		t.Errorf("trace ID = %s, want %s from traceparent", got, traceID)
	}
}

func TestRouteOf_Patterns(t *testing.T) {
	t.Parallel()

	tests := []struct{ pattern, want string }{
		{"GET /{$}", "/"},
		{"GET /healthz", "/healthz"},
		{"/plain", "/plain"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := routeOf(tt.pattern); got != tt.want {
			t.Errorf("routeOf(%q) = %q, want %q", tt.pattern, got, tt.want)
		}
	}
}

func attributeOf(attrs []attribute.KeyValue, key attribute.Key) attribute.Value {
	for _, attr := range attrs {
		if attr.Key == key {
			return attr.Value
		}
	}

	return attribute.Value{}
}

// requestCounts collects demo.worker.requests and returns its sums by route.
func requestCounts(t testing.TB, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()

	var data metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &data); err != nil {
		t.Fatalf("collect metrics: %v", err)
	}
	counts := make(map[string]int64)
	for _, scope := range data.ScopeMetrics {
		for _, m := range scope.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != "demo.worker.requests" || !ok {
				continue
			}
			for _, point := range sum.DataPoints {
				route, _ := point.Attributes.Value("http.route")
				counts[route.AsString()] += point.Value
			}
		}
	}

	return counts
}
