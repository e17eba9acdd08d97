package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// maxSleep is the longest delay that /sleep accepts.
const maxSleep = 10 * time.Minute

// worker serves the demo HTTP endpoints for one configuration. /healthz
// returns 200 while ready is set and stopping is not.
type worker struct {
	cfg      config
	tel      *telemetry
	ready    atomic.Bool
	stopping atomic.Bool
}

// info is the JSON body of / and /sleep. Slot is null outside clusterctl.
type info struct {
	Service    string `json:"service"`
	InstanceID string `json:"instance_id"`
	Version    string `json:"version"`
	Slot       *int   `json:"slot"`
	Hostname   string `json:"hostname"`
}

// statusRecorder keeps the status code that a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records code and passes it on.
func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap returns the underlying writer for http.ResponseController.
func (r *statusRecorder) Unwrap() http.ResponseWriter {
	return r.ResponseWriter
}

// handler returns the worker's routes wrapped in the instrumentation.
func (w *worker) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", w.serveInfo)
	mux.HandleFunc("GET /healthz", w.serveHealth)
	mux.HandleFunc("GET /sleep", w.serveSleep)

	return w.instrument(mux)
}

// instrument sets X-Instance-Id, records one server span and one count of
// demo.worker.requests per request, and continues a trace that the caller
// propagated in W3C trace context headers.
func (w *worker) instrument(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		route := routeOf(pattern)
		ctx := w.tel.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := w.tel.tracer.Start(ctx, strings.TrimSpace(r.Method+" "+route),
			trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()

		rw.Header().Set("X-Instance-Id", w.cfg.instanceID)
		recorder := &statusRecorder{ResponseWriter: rw, status: http.StatusOK}
		mux.ServeHTTP(recorder, r.WithContext(ctx))

		attrs := []attribute.KeyValue{
			attribute.String("http.request.method", r.Method),
			attribute.String("http.route", route),
			attribute.Int("http.response.status_code", recorder.status),
		}
		span.SetAttributes(attrs...)
		if recorder.status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(recorder.status))
		}
		w.tel.requests.Add(ctx, 1, metric.WithAttributes(attrs...))
	})
}

// routeOf returns the path template of a ServeMux pattern such as
// "GET /{$}", as the http.route attribute wants it: "/". It returns "" for
// the empty pattern of an unmatched request.
func routeOf(pattern string) string {
	_, path, found := strings.Cut(pattern, " ")
	if !found {
		path = pattern
	}

	return strings.TrimSuffix(path, "{$}")
}

func (w *worker) serveInfo(rw http.ResponseWriter, _ *http.Request) {
	w.writeInfo(rw)
}

func (w *worker) serveHealth(rw http.ResponseWriter, _ *http.Request) {
	if !w.ready.Load() || w.stopping.Load() {
		http.Error(rw, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(rw, "ok")
}

// serveSleep writes the info body after the delay in query parameter d,
// a Go duration. It returns early, writing nothing, when the client goes away.
func (w *worker) serveSleep(rw http.ResponseWriter, r *http.Request) {
	delay, err := parseSleep(r.URL.Query().Get("d"))
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}

	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		w.writeInfo(rw)
	case <-r.Context().Done():
	}
}

func parseSleep(value string) (time.Duration, error) {
	delay, err := time.ParseDuration(value)
	if err != nil || delay < 0 || delay > maxSleep {
		return 0, fmt.Errorf("invalid d %q: set a Go duration from 0s to %s, such as /sleep?d=2s",
			value, maxSleep)
	}

	return delay, nil
}

func (w *worker) writeInfo(rw http.ResponseWriter) {
	body, err := json.Marshal(info{
		Service:    w.cfg.service,
		InstanceID: w.cfg.instanceID,
		Version:    w.cfg.version,
		Slot:       w.cfg.slot,
		Hostname:   w.cfg.hostname,
	})
	if err != nil {
		slog.Error("encode info", "error", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}

	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	rw.Write(append(body, '\n'))
}
