package progress

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clusterctl/clusterctl/orchestrator"
)

// ansiEscape matches the cursor and erase escapes the view writes.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// newTestView returns a view without a redraw goroutine, a fixed terminal
// size and a clock fixed at now.
func newTestView(tb testing.TB, buf *bytes.Buffer, width, height int, now time.Time) *ttyView {
	tb.Helper()
	size := func() (int, int) { return width, height }

	return newTTYView(buf, size, func() time.Time { return now }, 0)
}

// visibleLines returns the output with escapes and carriage returns removed,
// split into lines.
func visibleLines(tb testing.TB, out string) []string {
	tb.Helper()
	text := strings.ReplaceAll(ansiEscape.ReplaceAllString(out, ""), "\r", "")
	if strings.ContainsRune(text, '\x1b') {
		tb.Fatalf("output contains a raw escape outside the view's own: %q", text)
	}

	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

// finalFrame returns the rows written by the last draw.
func finalFrame(tb testing.TB, out string) []string {
	tb.Helper()
	if i := strings.LastIndex(out, eraseBelowCursor); i >= 0 {
		out = out[i+len(eraseBelowCursor):]
	}

	return visibleLines(tb, out)
}

func TestTTYView_FinalState(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	events := append(sampleEvents(), orchestrator.Event{Time: baseTime.Add(2100 * time.Millisecond),
		Kind: orchestrator.EventStarted, Service: "web", Slot: 0, Container: "demo-web-0-2f3e4d"})
	v := newTestView(t, &buf, 100, 40, baseTime.Add(2400*time.Millisecond))
	for _, e := range events {
		v.report(e)
		v.tick()
	}
	v.close()

	frame := finalFrame(t, buf.String())
	want := []string{
		"✔ project               0.0s  created (network demo_default)",
		"✔ web                   0.9s  built (sha256:1a2b)",
		"✔ demo-web-frontdoor    0.0s  started",
		"✔ demo-web-0-1a2b3c     1.3s  ready (healthy after 1.2s)",
		"- demo-web-0-2f3e4d     0.3s  started",
	}
	if strings.Join(frame, "\n") != strings.Join(want, "\n") {
		t.Errorf("final frame:\n%s\nwant:\n%s", strings.Join(frame, "\n"), strings.Join(want, "\n"))
	}
}

func TestTTYView_WarningInScrollback(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	events := sampleEvents()
	v := newTestView(t, &buf, 100, 40, baseTime)
	for _, e := range events {
		v.report(e)
	}
	v.tick()
	v.close()

	want := "2026-12-04T16:40:02.323Z web.0 warning demo-web-0-1a2b3c (service.instance.id <set by user> replaced)"
	lines := visibleLines(t, buf.String())
	if count := strings.Count(strings.Join(lines, "\n"), want); count != 1 {
		t.Errorf("warning printed %d times above the live area, want once; output:\n%s",
			count, strings.Join(lines, "\n"))
	}
}

func TestTTYView_NeverWiderThanTerminal(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a very long health output 健康 ", 20)
	tests := []struct {
		name  string
		width int
	}{
		{"narrow", 20},
		{"default", defaultWidth},
		{"tiny", 3},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		v := newTestView(t, &buf, tt.width, 0, baseTime.Add(time.Hour))
		for slot := range 3 {
			v.report(orchestrator.Event{Time: baseTime, Kind: orchestrator.EventWaiting,
				Service: "web", Slot: slot, Container: "demo-web-" + strings.Repeat("x", 60),
				Message: long})
			v.tick()
		}
		v.close()

		for _, line := range visibleLines(t, buf.String()) {
			if got := textWidth(line); got > tt.width {
				t.Errorf("%s: line is %d columns wide, terminal has %d: %q", tt.name, got, tt.width, line)
			}
		}
	}
}

func TestTTYView_RedrawsInPlace(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	v := newTestView(t, &buf, 80, 40, baseTime)
	v.report(orchestrator.Event{Time: baseTime, Kind: orchestrator.EventCreated, Service: "web", Slot: 0})
	v.report(orchestrator.Event{Time: baseTime, Kind: orchestrator.EventCreated, Service: "web", Slot: 1})
	v.tick()
	if strings.Contains(buf.String(), "\x1b[") {
		t.Errorf("first frame moved the cursor: %q", buf.String())
	}

	buf.Reset()
	v.tick()
	if !strings.HasPrefix(buf.String(), "\x1b[2A"+eraseBelowCursor) {
		t.Errorf("second frame does not start by moving up over the 2 drawn rows: %q", buf.String())
	}
}

func TestTTYView_SkipsRedrawWhenIdle(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	v := newTestView(t, &buf, 80, 40, baseTime)
	v.report(orchestrator.Event{Time: baseTime, Kind: orchestrator.EventReady, Service: "web", Slot: 0})
	v.tick()
	size := buf.Len()
	v.tick()
	if buf.Len() != size {
		t.Errorf("tick redrew a view with no change and nothing in progress: %q", buf.String()[size:])
	}
}

func TestTTYView_LineMatching(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	v := newTestView(t, &buf, 80, 0, baseTime)
	events := []orchestrator.Event{
		{Kind: orchestrator.EventCreated, Service: "web", Slot: 0},
		{Kind: orchestrator.EventStarted, Service: "web", Slot: 0, Container: "demo-web-0-old"},
		{Kind: orchestrator.EventWaiting, Service: "web", Slot: 0},
		{Kind: orchestrator.EventCreated, Service: "web", Slot: 0, Container: "demo-web-0-new"},
		{Kind: orchestrator.EventDraining, Service: "web", Slot: 0, Container: "demo-web-0-old"},
		{Kind: orchestrator.EventBuilding, Service: "web", Slot: -1},
		{Kind: orchestrator.EventStarted, Service: "web", Slot: -1, Container: "demo-web-frontdoor"},
		{Kind: orchestrator.EventCreated, Slot: -1, Message: "network demo_default"},
		{Kind: orchestrator.EventCreated, Slot: -1, Message: "volume demo_data"},
		{Kind: orchestrator.EventBuilt, Service: "web", Slot: -1},
	}
	for _, e := range events {
		e.Time = baseTime
		v.report(e)
	}

	var got []string
	for _, l := range v.lines {
		got = append(got, l.label()+" "+string(l.latest.Kind))
	}
	want := []string{
		"demo-web-0-old draining",
		"demo-web-0-new created",
		"web built",
		"demo-web-frontdoor started",
		"project created",
		"project created",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTTYView_PhaseRestartsElapsed(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	v := newTestView(t, &buf, 80, 0, baseTime.Add(10*time.Second))
	v.report(orchestrator.Event{Time: baseTime, Kind: orchestrator.EventCreated, Service: "web", Slot: 0})
	v.report(orchestrator.Event{Time: baseTime.Add(2 * time.Second), Kind: orchestrator.EventReady,
		Service: "web", Slot: 0})
	v.report(orchestrator.Event{Time: baseTime.Add(7 * time.Second), Kind: orchestrator.EventDraining,
		Service: "web", Slot: 0})

	if got := v.lines[0].elapsed(baseTime.Add(10 * time.Second)); got != 3*time.Second {
		t.Errorf("draining elapsed %v, want 3s since the draining event", got)
	}
}

func TestTTYView_FitsTerminalHeight(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	const height = 6
	v := newTestView(t, &buf, 80, height, baseTime)
	for slot := range 10 {
		kind := orchestrator.EventReady
		if slot == 2 {
			kind = orchestrator.EventWaiting
		}
		v.report(orchestrator.Event{Time: baseTime, Kind: kind, Service: "web", Slot: slot})
	}
	v.tick()

	frame := visibleLines(t, buf.String())
	if len(frame) != height-1 {
		t.Fatalf("frame has %d rows, want %d:\n%s", len(frame), height-1, strings.Join(frame, "\n"))
	}
	if !strings.Contains(frame[0], "web.2 ") {
		t.Errorf("first row %q is not the instance in progress", frame[0])
	}
	if frame[len(frame)-1] != "  +6 more" {
		t.Errorf("last row %q, want the count of hidden lines", frame[len(frame)-1])
	}

	v.close()
	if final := finalFrame(t, buf.String()); len(final) != 10 {
		t.Errorf("final frame has %d rows, want all 10", len(final))
	}
}

func TestRenderer_TTYGoroutineRedraws(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	r := New(ModeTTY, &out)
	r.Report(orchestrator.Event{Kind: orchestrator.EventWaiting, Service: "web", Slot: 0})

	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "web.0") {
		if time.Now().After(deadline) {
			t.Fatal("the redraw goroutine drew nothing within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.Close()

	final := finalFrame(t, out.String())
	if len(final) != 1 || !strings.HasPrefix(final[0], markUnfinished+" web.0 ") {
		t.Errorf("final frame %q, want the unfinished instance", final)
	}
}

func TestTruncate_Cases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		columns int
		want    string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"much too long", 8, "much to…"},
		{"健康检查", 5, "健康…"},
		{"e\u0301tat", 3, "e\u0301t…"},
		{"abc", 0, ""},
	}
	for _, tt := range tests {
		got := truncate(tt.in, tt.columns)
		if got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.columns, got, tt.want)
		}
		if textWidth(got) > tt.columns {
			t.Errorf("truncate(%q, %d) is %d columns wide", tt.in, tt.columns, textWidth(got))
		}
	}
}

func TestFormatElapsed_Cases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0.0s"},
		{1234 * time.Millisecond, "1.2s"},
		{3*time.Minute + 7*time.Second, "3m07s"},
		{time.Hour + 5*time.Minute, "1h05m"},
	}
	for _, tt := range tests {
		if got := formatElapsed(tt.in); got != tt.want {
			t.Errorf("formatElapsed(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
