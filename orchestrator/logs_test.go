package orchestrator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/pkg/stdcopy"
)

// at returns a fixed time plus ms milliseconds.
func at(ms int) time.Time {
	return time.Date(2026, 12, 4, 17, 58, 36, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
}

func stamp(t time.Time) string {
	return t.Format(timestampFormat)
}

// readAll collects what readLogMessages emits as "stream:message".
func readAll(t *testing.T, stream []byte) []string {
	t.Helper()
	var got []string
	err := readLogMessages(bytes.NewReader(stream), func(s string, message []byte) bool {
		got = append(got, s+":"+string(message))
		return true
	})
	if err != nil {
		t.Fatalf("readLogMessages: %v", err)
	}
	return got
}

func TestReadLogMessages_PartialLastLine(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	stdout, stderr := stdcopy.NewStdWriter(&stream, stdcopy.Stdout), stdcopy.NewStdWriter(&stream, stdcopy.Stderr)
	for _, write := range []struct {
		w    interface{ Write([]byte) (int, error) }
		text string
	}{
		{stdout, stamp(at(0)) + " started\n"},
		{stderr, stamp(at(1)) + " warning\n"},
		{stdout, stamp(at(2)) + " panic: last words"},
		{stdout, stamp(at(900)) + " started again\n"},
	} {
		if _, err := write.w.Write([]byte(write.text)); err != nil {
			t.Fatal(err)
		}
	}
	got := readAll(t, stream.Bytes())
	want := []string{
		"stdout:" + stamp(at(0)) + " started\n",
		"stderr:" + stamp(at(1)) + " warning\n",
		"stdout:" + stamp(at(2)) + " panic: last words",
		"stdout:" + stamp(at(900)) + " started again\n",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("messages =\n%q\nwant\n%q", got, want)
	}
}

func TestReadLogMessages_RawTTYStream(t *testing.T) {
	t.Parallel()
	got := readAll(t, []byte(stamp(at(0))+" one\r\n"+stamp(at(1))+" two"))
	want := []string{"stdout:" + stamp(at(0)) + " one\r\n", "stdout:" + stamp(at(1)) + " two"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("messages = %q, want %q", got, want)
	}
}

func TestReadLogMessages_EmptyStream(t *testing.T) {
	t.Parallel()
	if got := readAll(t, nil); len(got) != 0 {
		t.Errorf("messages of an empty stream = %q, want none", got)
	}
}

func TestReadLogMessages_EngineErrorFrame(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	if _, err := stdcopy.NewStdWriter(&stream, stdcopy.Systemerr).Write([]byte("log driver failed\n")); err != nil {
		t.Fatal(err)
	}
	err := readLogMessages(&stream, func(string, []byte) bool { return true })
	if err == nil || !strings.Contains(err.Error(), "log driver failed") {
		t.Errorf("error = %v, want the engine's message", err)
	}
}

func TestReadLogMessages_TruncatedFrame(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	if _, err := stdcopy.NewStdWriter(&stream, stdcopy.Stdout).Write([]byte(stamp(at(0)) + " cut\n")); err != nil {
		t.Fatal(err)
	}
	err := readLogMessages(bytes.NewReader(stream.Bytes()[:stream.Len()-3]), func(string, []byte) bool { return true })
	if err == nil {
		t.Error("a truncated frame gave no error")
	}
}

func TestParseLogMessage(t *testing.T) {
	t.Parallel()
	base := logLine{Service: "web", Slot: 1, Stream: "stderr"}
	cases := []struct {
		name    string
		message string
		want    []string
		time    time.Time
	}{
		{name: "line", message: stamp(at(5)) + " hello world\n", want: []string{"hello world"}, time: at(5)},
		{name: "partial line", message: stamp(at(5)) + " no newline", want: []string{"no newline"}, time: at(5)},
		{name: "carriage return", message: stamp(at(5)) + " tty\r\n", want: []string{"tty"}, time: at(5)},
		{name: "empty line", message: stamp(at(5)) + " \n", want: []string{""}, time: at(5)},
		{name: "several lines", message: stamp(at(5)) + " a\nb\n", want: []string{"a", "b"}, time: at(5)},
		{name: "no timestamp", message: "plain text\n", want: []string{"plain text"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lines := parseLogMessage(base, []byte(tc.message))
			var got []string
			for _, l := range lines {
				got = append(got, l.Message)
				if !l.Time.Equal(tc.time) {
					t.Errorf("time = %v, want %v", l.Time, tc.time)
				}
				if l.Service != "web" || l.Slot != 1 || l.Stream != "stderr" {
					t.Errorf("line lost its instance: %+v", l)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("lines = %q, want %q", got, tc.want)
			}
		})
	}
}

func source(lines ...logLine) <-chan logLine {
	ch := make(chan logLine, len(lines))
	for _, l := range lines {
		ch <- l
	}
	close(ch)
	return ch
}

func TestMergeByTime(t *testing.T) {
	t.Parallel()
	line := func(slot, ms int, msg string) logLine {
		return logLine{Service: "web", Slot: slot, Time: at(ms), Message: msg}
	}
	var got []string
	mergeByTime([]<-chan logLine{
		source(line(0, 10, "a1"), line(0, 30, "a2"), line(0, 30, "a3"), line(0, 90, "a4")),
		source(line(1, 5, "b1"), line(1, 30, "b2"), line(1, 31, "b3")),
		source(),
		source(line(2, 100, "c1")),
	}, func(l logLine) { got = append(got, l.Message) })
	want := "b1 a1 a2 a3 b2 b3 a4 c1"
	if strings.Join(got, " ") != want {
		t.Errorf("merged = %s, want %s", strings.Join(got, " "), want)
	}
}

func TestLogPrinter_Text(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts LogsOptions
		want string
	}{
		{name: "plain", want: "web.1  | hello\n"},
		{name: "timestamps", opts: LogsOptions{Timestamps: true},
			want: "web.1  | 2026-12-04T17:58:36.005000000Z hello\n"},
		{name: "color", opts: LogsOptions{Color: true}, want: "\x1b[32mweb.1  |\x1b[0m hello\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			p := newLogPrinter(&out, tc.opts)
			p.register("web", 0)
			p.register("web", 10)
			p.print(logLine{Service: "web", Slot: 1, Stream: "stdout", Time: at(5), Message: "hello"})
			if out.String() != tc.want {
				t.Errorf("output = %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestLogPrinter_ColorPerInstance(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := newLogPrinter(&out, LogsOptions{Color: true})
	for slot := range len(prefixColors) + 1 {
		p.print(logLine{Service: "web", Slot: slot, Message: "x"})
	}
	p.print(logLine{Service: "web", Slot: 0, Message: "again"})
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	colorOf := func(line string) string {
		code, _, _ := strings.Cut(strings.TrimPrefix(line, "\x1b["), "m")
		return code
	}
	for i := range len(prefixColors) {
		if got := colorOf(lines[i]); got != prefixColors[i] {
			t.Errorf("web.%d has color %s, want %s", i, got, prefixColors[i])
		}
	}
	if got := colorOf(lines[len(prefixColors)]); got != prefixColors[0] {
		t.Errorf("the instance after the palette ran out has color %s, want the first again", got)
	}
	if got := colorOf(lines[len(lines)-1]); got != prefixColors[0] {
		t.Errorf("web.0 changed color to %s on its second line", got)
	}
}

func TestLogPrinter_JSON(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := newLogPrinter(&out, LogsOptions{JSON: true, Color: true})
	p.print(logLine{Service: "web", Slot: 2, Name: "shop-web-2-abc123", Stream: "stderr",
		Time: at(5).In(time.FixedZone("CET", 3600)), Message: `say "hi"`})
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("JSON output has color escapes: %q", out.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	want := map[string]any{"service": "web", "slot": 2.0, "name": "shop-web-2-abc123", "stream": "stderr",
		"time": "2026-12-04T17:58:36.005Z", "message": `say "hi"`}
	for key, value := range want {
		if got[key] != value {
			t.Errorf("%s = %v, want %v", key, got[key], value)
		}
	}
	if len(got) != len(want) {
		t.Errorf("object has keys %v, want exactly %v", got, want)
	}
}

func TestLogCursor_NewLines(t *testing.T) {
	t.Parallel()
	var c logCursor
	c.advance(at(10))
	c.advance(at(20))
	c.advance(at(20))
	// A stream opened at 20 ms sends both lines of 20 ms again.
	for range 2 {
		isNew := c.newLines()
		var got []bool
		for _, ms := range []int{20, 20} {
			got = append(got, isNew(at(ms)))
		}
		if got[0] || got[1] {
			t.Fatalf("lines printed before count as new: %v", got)
		}
	}
	isNew := c.newLines()
	got := fmt.Sprint(isNew(at(15)), isNew(at(20)), isNew(at(20)), isNew(at(20)), isNew(at(30)))
	if got != "false false false true true" {
		t.Errorf("new lines = %s, want false false false true true", got)
	}
	if !c.time.Equal(at(30)) || c.seen != 1 {
		t.Errorf("cursor = %v/%d, want 30 ms/1", c.time, c.seen)
	}
	var empty logCursor
	if !empty.newLines()(at(1)) {
		t.Error("an empty cursor rejects a line")
	}
}

// addInstance puts a running instance of web into the fake engine.
func addInstance(f *fakeEngine, slot int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.id("ctr")
	f.containers[id] = &fakeContainer{id: id, name: fmt.Sprintf("shop-web-%d-%s", slot, id), running: true,
		started: time.Now(), config: container.Config{Labels: map[string]string{
			LabelProject: "shop", LabelService: "web", LabelRole: RoleInstance, LabelInstance: strconv.Itoa(slot),
		}}}
	return id
}

func TestLogs_MergesInstancesByTime(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	engine.logs = newFakeLogs()
	web0, web1 := addInstance(engine, 0), addInstance(engine, 1)
	engine.logs.print(web0, stdcopy.Stdout, at(0), "zero starts\n")
	engine.logs.print(web1, stdcopy.Stdout, at(1), "one starts\n")
	engine.logs.print(web1, stdcopy.Stderr, at(2), "one fails")
	engine.logs.print(web0, stdcopy.Stdout, at(3), "zero serves\n")
	o, _ := newTestOrchestrator(engine)
	cases := []struct {
		name string
		opts LogsOptions
		want string
	}{
		{name: "all", opts: LogsOptions{Tail: -1},
			want: "web.0 | zero starts\nweb.1 | one starts\nweb.1 | one fails\nweb.0 | zero serves\n"},
		{name: "tail", opts: LogsOptions{Tail: 1}, want: "web.1 | one fails\nweb.0 | zero serves\n"},
		{name: "since", opts: LogsOptions{Tail: -1, Since: at(2)}, want: "web.1 | one fails\nweb.0 | zero serves\n"},
		{name: "target", opts: LogsOptions{Tail: -1, Targets: []string{"web.1"}}, want: "web.1 | one starts\nweb.1 | one fails\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := o.Logs(t.Context(), "shop", tc.opts, &out); err != nil {
				t.Fatalf("Logs: %v", err)
			}
			if out.String() != tc.want {
				t.Errorf("output =\n%s\nwant\n%s", out.String(), tc.want)
			}
		})
	}
}

func TestLogs_UnknownTarget(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	addInstance(engine, 0)
	o, _ := newTestOrchestrator(engine)
	err := o.Logs(t.Context(), "shop", LogsOptions{Targets: []string{"web.7"}}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "web.7") || !strings.Contains(err.Error(), "clusterctl ps") {
		t.Errorf("error = %v, want one that names web.7 and clusterctl ps", err)
	}
}

// syncBuffer is a bytes.Buffer that several goroutines may use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitForOutput polls out until it contains want.
func waitForOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never contained %q:\n%s", want, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startEvent(f *fakeEngine, id string, action events.Action) events.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	attrs := map[string]string{"name": id}
	if c, ok := f.containers[id]; ok {
		for k, v := range c.config.Labels {
			attrs[k] = v
		}
		attrs["name"] = c.name
	}
	return events.Message{Type: events.ContainerEventType, Action: action, Actor: events.Actor{ID: id, Attributes: attrs}}
}

func TestLogs_FollowAcrossRestarts(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	engine.logs = newFakeLogs()
	engine.events = make(chan events.Message)
	now := time.Now()
	web0 := addInstance(engine, 0)
	engine.logs.print(web0, stdcopy.Stdout, now.Add(-time.Second), "old line\n")
	o, _ := newTestOrchestrator(engine)
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- o.Logs(ctx, "shop", LogsOptions{Follow: true, Tail: -1}, out) }()
	waitForOutput(t, out, "web.0 | old line\n")

	// The instance crashes after a line without a newline and restarts.
	engine.logs.print(web0, stdcopy.Stderr, now.Add(time.Millisecond), "panic: last words")
	waitForOutput(t, out, "web.0 | panic: last words\n")
	engine.logs.stop(web0)
	if err := engine.ContainerStop(ctx, web0, container.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := engine.ContainerStart(ctx, web0, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	engine.logs.start(web0)
	engine.logs.print(web0, stdcopy.Stdout, now.Add(2*time.Millisecond), "started again\n")
	engine.events <- startEvent(engine, web0, events.ActionStart)
	waitForOutput(t, out, "web.0 | started again\n")

	// A scale adds slot 1, which joins the stream with its first line.
	web1 := addInstance(engine, 1)
	engine.logs.print(web1, stdcopy.Stdout, now.Add(-time.Minute), "first line of web.1\n")
	engine.events <- startEvent(engine, web1, events.ActionStart)
	waitForOutput(t, out, "web.1 | first line of web.1\n")

	// Removing slot 0 ends its follower, and slot 1 keeps streaming.
	engine.logs.remove(web0)
	if err := engine.ContainerRemove(ctx, web0, container.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	engine.events <- startEvent(engine, web0, events.ActionDestroy)
	engine.logs.print(web1, stdcopy.Stdout, now.Add(3*time.Millisecond), "still here\n")
	waitForOutput(t, out, "web.1 | still here\n")

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Logs: %v", err)
	}
	want := "web.0 | old line\nweb.0 | panic: last words\nweb.0 | started again\n" +
		"web.1 | first line of web.1\nweb.1 | still here\n"
	if out.String() != want {
		t.Errorf("output =\n%s\nwant every line once, in order:\n%s", out.String(), want)
	}
}

// followRun is a Logs -f run against a fake engine whose events the test
// sends.
type followRun struct {
	t      *testing.T
	engine *fakeEngine
	out    *syncBuffer
	done   chan error
}

func startFollow(t *testing.T, engine *fakeEngine, o *Orchestrator, opts LogsOptions) *followRun {
	r := &followRun{t: t, engine: engine, out: &syncBuffer{}, done: make(chan error, 1)}
	opts.Follow, opts.Tail = true, -1
	go func() { r.done <- o.Logs(t.Context(), "shop", opts, r.out) }()
	return r
}

// send hands an event to Logs, and fails when Logs no longer reads.
func (r *followRun) send(msg events.Message) {
	r.t.Helper()
	select {
	case r.engine.events <- msg:
	case err := <-r.done:
		r.t.Fatalf("Logs returned %v while the project still had to be followed", err)
	}
}

// remove removes a container and sends its destroy event.
func (r *followRun) remove(id string) {
	r.t.Helper()
	r.engine.logs.remove(id)
	if err := r.engine.ContainerRemove(r.t.Context(), id, container.RemoveOptions{}); err != nil {
		r.t.Fatal(err)
	}
	r.send(startEvent(r.engine, id, events.ActionDestroy))
}

// requireEnded fails unless Logs returns without error soon.
func (r *followRun) requireEnded() {
	r.t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Logs: %v", err)
		}
	case <-time.After(10 * time.Second):
		r.t.Fatal("Logs -f still runs after the project's last container was removed")
	}
}

func newFollowEngine() *fakeEngine {
	engine := newFakeEngine()
	engine.logs = newFakeLogs()
	engine.events = make(chan events.Message)
	return engine
}

func TestLogs_FollowEndsWithProject(t *testing.T) {
	t.Parallel()
	engine := newFollowEngine()
	web0, web1 := addInstance(engine, 0), addInstance(engine, 1)
	engine.logs.print(web0, stdcopy.Stdout, time.Now(), "zero\n")
	o, _ := newTestOrchestrator(engine)
	run := startFollow(t, engine, o, LogsOptions{Targets: []string{"web.0"}})
	waitForOutput(t, run.out, "web.0 | zero\n")

	// Slot 0 leaves, and slot 1 keeps the project alive. The start event
	// after it is read only once the removal was handled.
	run.remove(web0)
	run.send(startEvent(engine, web1, events.ActionStart))

	run.remove(web1)
	run.requireEnded()
}

func TestLogs_FollowOutlastsUpThatEmptiesProject(t *testing.T) {
	t.Parallel()
	engine := newFollowEngine()
	old := addInstance(engine, 0)
	o, _ := newTestOrchestrator(engine)
	run := startFollow(t, engine, o, LogsOptions{})

	// An up that renamed the service removes the old instance before it
	// creates the new one, so the project is empty for a moment.
	lock, err := o.Acquire(t.Context(), "shop", "up --remove-orphans")
	if err != nil {
		t.Fatal(err)
	}
	run.remove(old)
	// A second event is read only once Logs handled the removal.
	run.send(startEvent(engine, "gone-already", events.ActionDestroy))
	renamed := addInstance(engine, 0)
	engine.logs.print(renamed, stdcopy.Stdout, time.Now(), "renamed\n")
	run.send(startEvent(engine, renamed, events.ActionStart))
	waitForOutput(t, run.out, "web.0 | renamed\n")
	if err := lock.Release(t.Context()); err != nil {
		t.Fatal(err)
	}

	run.remove(renamed)
	run.requireEnded()
}

func TestLogs_FollowSaysWhenNothingRunsYet(t *testing.T) {
	t.Parallel()
	for _, instances := range []int{0, 1} {
		t.Run(fmt.Sprintf("%d instances", instances), func(t *testing.T) {
			t.Parallel()
			engine := newFollowEngine()
			for slot := range instances {
				addInstance(engine, slot)
			}
			o, _ := newTestOrchestrator(engine)
			called := make(chan struct{}, 1)
			run := startFollow(t, engine, o, LogsOptions{OnNoInstance: func() { called <- struct{}{} }})
			// An event is read only once Logs listed the instances and
			// follows them.
			run.send(startEvent(engine, "gone-already", events.ActionStart))
			select {
			case <-called:
				if instances > 0 {
					t.Error("OnNoInstance ran although an instance exists")
				}
			default:
				if instances == 0 {
					t.Error("OnNoInstance did not run for a project without instances")
				}
			}
		})
	}
}
