package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestSignalProtocol_Precedence(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"default", nil, "http/protobuf"},
		{"general", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "grpc"},
		{"signal wins", map[string]string{
			"OTEL_EXPORTER_OTLP_PROTOCOL":        "grpc",
			"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
		}, "http/protobuf"},
		{"other signal ignored", map[string]string{
			"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
		}, "http/protobuf"},
		{"blank ignored", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": " "}, "http/protobuf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := signalProtocol(envOf(tt.env), "TRACES"); got != tt.want {
				t.Errorf("signalProtocol = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExportProtocol_Values(t *testing.T) {
	t.Parallel()

	tests := []struct {
		protocol string
		want     string
		wantErr  bool
	}{
		{"grpc", "grpc", false},
		{"http/protobuf", "http/protobuf", false},
		{"http/json", "http/protobuf", false},
		{"http", "", true},
		{"GRPC", "", true},
	}
	for _, tt := range tests {
		got, err := exportProtocol(tt.protocol)
		if (err != nil) != tt.wantErr {
			t.Errorf("exportProtocol(%q) error = %v, want error %t", tt.protocol, err, tt.wantErr)
		}
		if got != tt.want {
			t.Errorf("exportProtocol(%q) = %q, want %q", tt.protocol, got, tt.want)
		}
	}
}

func TestNewTelemetry_Disabled(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{
		"OTEL_SDK_DISABLED":           "TRUE",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "bogus",
	})

	tel, err := newTelemetry(t.Context(), env)
	if err != nil {
		t.Fatalf("newTelemetry: %v", err)
	}

	_, span := tel.tracer.Start(t.Context(), "test")
	defer span.End()
	if span.IsRecording() {
		t.Error("span records with OTEL_SDK_DISABLED=true")
	}
	if err := tel.shutdown(t.Context()); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func TestNewTelemetry_InvalidProtocol(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "udp")

	_, err := newTelemetry(t.Context(), os.Getenv)

	if err == nil {
		t.Fatal("newTelemetry with protocol udp: got nil error")
	}
}

func TestNewTelemetry_GRPCWithoutCollector(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")

	tel, err := newTelemetry(t.Context(), os.Getenv)

	if err != nil {
		t.Fatalf("newTelemetry: %v", err)
	}
	t.Cleanup(func() { _ = tel.shutdown(t.Context()) })
}

// otlpRecorder is an OTLP/HTTP endpoint that keeps the bodies it receives by
// path.
type otlpRecorder struct {
	mu     sync.Mutex
	bodies map[string][][]byte
}

func (r *otlpRecorder) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.bodies[req.URL.Path] = append(r.bodies[req.URL.Path], body)
	r.mu.Unlock()
	rw.Header().Set("Content-Type", "application/x-protobuf")
}

func (r *otlpRecorder) received(path string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()

	return r.bodies[path]
}

func TestNewTelemetry_ExportsOverHTTP(t *testing.T) {
	recorder := &otlpRecorder{bodies: make(map[string][][]byte)}
	collector := httptest.NewServer(recorder)
	t.Cleanup(collector.Close)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "web")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=web-0-abc")

	tel, err := newTelemetry(t.Context(), os.Getenv)
	if err != nil {
		t.Fatalf("newTelemetry: %v", err)
	}
	w := &worker{cfg: config{instanceID: "web-0-abc"}, tel: tel}
	serve(t, w, "/")
	if err := tel.shutdown(t.Context()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	if len(recorder.received("/v1/metrics")) == 0 {
		t.Error("no metrics export on shutdown")
	}
	traces := recorder.received("/v1/traces")
	if len(traces) == 0 {
		t.Fatal("no trace export on shutdown")
	}
	attrs := resourceAttributes(t, traces[0])
	if attrs["service.name"] != "web" {
		t.Errorf("service.name = %q, want web from OTEL_SERVICE_NAME", attrs["service.name"])
	}
	if attrs["service.instance.id"] != "web-0-abc" {
		t.Errorf("service.instance.id = %q, want web-0-abc", attrs["service.instance.id"])
	}
}

// resourceAttributes decodes an OTLP trace export and returns the string
// attributes of its first resource.
func resourceAttributes(t testing.TB, body []byte) map[string]string {
	t.Helper()

	var request collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &request); err != nil {
		t.Fatalf("decode trace export: %v", err)
	}
	if len(request.GetResourceSpans()) == 0 {
		t.Fatal("trace export has no resource spans")
	}
	attrs := make(map[string]string)
	for _, kv := range request.GetResourceSpans()[0].GetResource().GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
	}

	return attrs
}
