package progress

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clusterctl/clusterctl/orchestrator"
)

// baseTime is 2026-12-04T16:40:01.123456789Z.
var baseTime = time.Date(2026, 12, 4, 16, 40, 1, 123456789, time.UTC)

// sampleEvents returns a short up: a network, a build, a front door and one
// instance that becomes ready, with a warning.
func sampleEvents() []orchestrator.Event {
	at := func(ms int) time.Time { return baseTime.Add(time.Duration(ms) * time.Millisecond) }

	return []orchestrator.Event{
		{Time: at(0), Kind: orchestrator.EventCreated, Project: "demo", Slot: -1,
			Message: "network demo_default"},
		{Time: at(10), Kind: orchestrator.EventBuilding, Project: "demo", Service: "web", Slot: -1},
		{Time: at(900), Kind: orchestrator.EventBuilt, Project: "demo", Service: "web", Slot: -1,
			Message: "sha256:1a2b"},
		{Time: at(1000), Kind: orchestrator.EventStarted, Project: "demo", Service: "web", Slot: -1,
			Container: "demo-web-frontdoor"},
		{Time: at(1100), Kind: orchestrator.EventCreated, Project: "demo", Service: "web", Slot: 0,
			Container: "demo-web-0-1a2b3c"},
		{Time: at(1200), Kind: orchestrator.EventWarning, Project: "demo", Service: "web", Slot: 0,
			Container: "demo-web-0-1a2b3c", Message: "service.instance.id <set by user> replaced"},
		{Time: at(2400), Kind: orchestrator.EventReady, Project: "demo", Service: "web", Slot: 0,
			Container: "demo-web-0-1a2b3c", Message: "healthy after 1.2s"},
	}
}

func TestParseMode_Valid(t *testing.T) {
	t.Parallel()
	for _, want := range []Mode{ModeAuto, ModeTTY, ModePlain, ModeJSON} {
		got, err := ParseMode(string(want))
		if err != nil {
			t.Errorf("ParseMode(%q) error: %v", want, err)
		}
		if got != want {
			t.Errorf("ParseMode(%q) = %q", want, got)
		}
	}
}

func TestParseMode_Invalid(t *testing.T) {
	t.Parallel()
	for _, value := range []string{"", "fancy", "JSON", " plain"} {
		_, err := ParseMode(value)
		if err == nil {
			t.Fatalf("ParseMode(%q) returned no error", value)
		}
		for _, part := range []string{`"` + value + `"`, "auto, tty, plain, json"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("ParseMode(%q) error %q does not contain %q", value, err, part)
			}
		}
	}
}

func TestNew_AutoWithoutTerminal(t *testing.T) {
	t.Parallel()
	file, err := os.Create(filepath.Join(t.TempDir(), "progress.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = file.Close() })

	tests := []struct {
		name string
		mode Mode
		w    *os.File
		want Mode
	}{
		{"auto on a file", ModeAuto, file, ModePlain},
		{"unknown mode on a file", Mode("fancy"), file, ModePlain},
		{"json stays json", ModeJSON, file, ModeJSON},
		{"tty is forced", ModeTTY, file, ModeTTY},
	}
	for _, tt := range tests {
		r := New(tt.mode, tt.w)
		r.Close()
		if got := r.Mode(); got != tt.want {
			t.Errorf("%s: Mode() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRenderer_PlainLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	r := New(ModePlain, &buf)
	for _, e := range sampleEvents() {
		r.Report(e)
	}
	r.Close()

	want := strings.Join([]string{
		"2026-12-04T16:40:01.123Z project created (network demo_default)",
		"2026-12-04T16:40:01.133Z web building",
		"2026-12-04T16:40:02.023Z web built (sha256:1a2b)",
		"2026-12-04T16:40:02.123Z web started demo-web-frontdoor",
		"2026-12-04T16:40:02.223Z web.0 created demo-web-0-1a2b3c",
		"2026-12-04T16:40:02.323Z web.0 warning demo-web-0-1a2b3c (service.instance.id <set by user> replaced)",
		"2026-12-04T16:40:03.523Z web.0 ready demo-web-0-1a2b3c (healthy after 1.2s)",
		"",
	}, "\n")
	if got := buf.String(); got != want {
		t.Errorf("plain output:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatPlain_Cases(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("", 2*60*60)
	tests := []struct {
		name  string
		event orchestrator.Event
		want  string
	}{
		{
			name:  "zone offset",
			event: orchestrator.Event{Time: baseTime.In(zone), Kind: "stopped", Service: "api", Slot: 3},
			want:  "2026-12-04T18:40:01.123+02:00 api.3 stopped\n",
		},
		{
			name: "control characters escaped",
			event: orchestrator.Event{Time: baseTime, Kind: "failed", Service: "api", Slot: 0,
				Message: "exit 1\nlast line \x1b[31mred\x1b[0m"},
			want: `2026-12-04T16:40:01.123Z api.0 failed (exit 1\nlast line \x1b[31mred\x1b[0m)` + "\n",
		},
		{
			name:  "invalid UTF-8 replaced",
			event: orchestrator.Event{Time: baseTime, Kind: "info", Slot: -1, Message: "bad \xff byte"},
			want:  "2026-12-04T16:40:01.123Z project info (bad \uFFFD byte)\n",
		},
	}
	for _, tt := range tests {
		if got := string(formatPlain(tt.event)); got != tt.want {
			t.Errorf("%s: formatPlain = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRenderer_JSONLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	r := New(ModeJSON, &buf)
	events := sampleEvents()
	for _, e := range events[3:5] {
		r.Report(e)
	}
	r.Close()

	want := `{"time":"2026-12-04T16:40:02.123456789Z","kind":"started","project":"demo","service":"web","slot":-1,"container":"demo-web-frontdoor"}` + "\n" +
		`{"time":"2026-12-04T16:40:02.223456789Z","kind":"created","project":"demo","service":"web","slot":0,"container":"demo-web-0-1a2b3c"}` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("json output:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderer_JSONRoundTrip(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	r := New(ModeJSON, &buf)
	events := sampleEvents()
	events = append(events, orchestrator.Event{Time: baseTime, Kind: orchestrator.EventFailed,
		Service: "api", Slot: 1, Message: "exit 1\n<html> & \x1b[0m"})
	for _, e := range events {
		r.Report(e)
	}
	r.Close()

	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(events) {
		t.Fatalf("got %d lines, want %d", len(lines), len(events))
	}
	for i, text := range lines {
		var got orchestrator.Event
		if err := json.Unmarshal([]byte(text), &got); err != nil {
			t.Fatalf("line %d %q: %v", i, text, err)
		}
		want := events[i]
		if !got.Time.Equal(want.Time) {
			t.Errorf("line %d: time %v, want %v", i, got.Time, want.Time)
		}
		got.Time, want.Time = time.Time{}, time.Time{}
		if got != want {
			t.Errorf("line %d: event %+v, want %+v", i, got, want)
		}
	}
}

func TestFormatJSON_YearOutOfRange(t *testing.T) {
	t.Parallel()
	line := formatJSON(orchestrator.Event{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})

	var got orchestrator.Event
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("fallback line %q is not JSON: %v", line, err)
	}
	if got.Kind != orchestrator.EventWarning {
		t.Errorf("fallback kind %q, want %q", got.Kind, orchestrator.EventWarning)
	}
}

func TestRenderer_ZeroTimeGetsNow(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	r := New(ModePlain, &buf)
	before := time.Now().Truncate(time.Millisecond)
	r.Report(orchestrator.Event{Kind: orchestrator.EventInfo, Slot: -1})
	r.Close()

	stamp, _, _ := strings.Cut(buf.String(), " ")
	got, err := time.Parse(plainTimeLayout, stamp)
	if err != nil {
		t.Fatalf("timestamp %q: %v", stamp, err)
	}
	if got.Before(before) {
		t.Errorf("timestamp %v is before the Report call at %v", got, before)
	}
}

func TestRenderer_DropsAfterClose(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModePlain, ModeJSON, ModeTTY} {
		var buf bytes.Buffer
		r := New(mode, &buf)
		r.Close()
		size := buf.Len()
		r.Report(sampleEvents()[0])
		r.Close()
		if buf.Len() != size {
			t.Errorf("%s: output grew from %d to %d bytes after Close", mode, size, buf.Len())
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderer_ErrKeepsFirstWriteError(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModePlain, ModeJSON, ModeTTY} {
		r := New(mode, failingWriter{})
		r.Report(sampleEvents()[0])
		r.Close()
		err := r.Err()
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s: Err() = %v, want the write error", mode, err)
		}
	}
}

// lockedBuffer is a bytes.Buffer that the race detector accepts from
// several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

func TestRenderer_ConcurrentReports(t *testing.T) {
	t.Parallel()
	const goroutines, perGoroutine = 8, 200
	for _, mode := range []Mode{ModePlain, ModeJSON, ModeTTY} {
		var out lockedBuffer
		r := New(mode, &out)
		var reporter orchestrator.Reporter = r.Report

		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range perGoroutine {
					reporter(orchestrator.Event{Kind: orchestrator.EventWaiting, Service: "web",
						Slot: g, Container: "demo-web-" + string(rune('a'+g)), Message: "try " + string(rune('0'+i%10))})
				}
			})
		}
		wg.Wait()
		r.Close()

		got := strings.Count(out.String(), "\n")
		if mode != ModeTTY && got != goroutines*perGoroutine {
			t.Errorf("%s: %d lines, want %d", mode, got, goroutines*perGoroutine)
		}
		if mode == ModeTTY && got < goroutines {
			t.Errorf("tty: %d lines, want at least one per instance (%d)", got, goroutines)
		}
	}
}
