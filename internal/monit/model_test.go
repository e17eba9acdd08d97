package monit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
)

// fakeSource returns the next of its results on each call, then repeats
// the last one.
type fakeSource struct {
	mu      sync.Mutex
	results []fakeResult
	calls   int
}

type fakeResult struct {
	rows []Row
	err  error
}

func (f *fakeSource) Snapshot(context.Context) ([]Row, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	result := f.results[min(f.calls, len(f.results)-1)]
	f.calls++
	return result.rows, result.err
}

var testTime = time.Date(2026, 12, 4, 17, 3, 36, 0, time.UTC)

// sampleRows are instances in every state, with names as long as real
// container names.
func sampleRows() []Row {
	return []Row{
		{Service: "api", Slot: 0, Name: "shop-api-0-3f9c2a7b1d4e", State: "ready", Health: "healthy", Restarts: 0,
			Uptime: 2*time.Hour + 4*time.Minute, Measured: true, CPUPercent: 12.34, MemoryBytes: 48 << 20, MemoryLimit: 256 << 20},
		{Service: "api", Slot: 1, Name: "shop-api-1-8e1b0c5d7a2f", State: "starting", Health: "starting", Restarts: 0,
			Uptime: 3 * time.Second, Measured: true, CPUPercent: 0.5, MemoryBytes: 3 << 20, MemoryLimit: 256 << 20},
		{Service: "worker", Slot: 0, Name: "shop-worker-0-c0ffee123456", State: "crashloop", Health: "none", Restarts: 17,
			Uptime: time.Second},
		{Service: "worker", Slot: 1, Name: "shop-worker-1-deadbeef9876", State: "exited", Health: "none", Restarts: 4, ExitCode: 137},
	}
}

// newTestModel returns a model of project shop, sized to width and height,
// that has applied one snapshot of rows.
func newTestModel(t testing.TB, width, height int, profile colorprofile.Profile, rows []Row) Model {
	t.Helper()
	m := New(t.Context(), "shop", &fakeSource{results: []fakeResult{{rows: rows}}}, Options{
		Profile: profile, Now: func() time.Time { return testTime },
	})
	m = update(t, m, tea.WindowSizeMsg{Width: width, Height: height})
	return update(t, m, snapshotMsg{rows: rows, started: testTime})
}

func update(t testing.TB, m Model, msg tea.Msg) Model {
	t.Helper()
	next, _ := m.Update(msg)
	model, ok := next.(Model)
	if !ok {
		t.Fatalf("Update returned %T, want Model", next)
	}
	return model
}

func TestModel_QuitKeys(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		key  tea.KeyPressMsg
		quit bool
	}{
		{"q", tea.KeyPressMsg{Code: 'q', Text: "q"}, true},
		{"ctrl+c", tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}, true},
		{"esc", tea.KeyPressMsg{Code: tea.KeyEscape}, true},
		{"x", tea.KeyPressMsg{Code: 'x', Text: "x"}, false},
		{"Q", tea.KeyPressMsg{Code: 'q', Mod: tea.ModShift, Text: "Q"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newTestModel(t, 80, 24, colorprofile.Unknown, sampleRows())

			_, cmd := m.Update(tc.key)

			if !tc.quit {
				if cmd != nil {
					t.Errorf("key %s returned a command, want none", tc.name)
				}
				return
			}
			if cmd == nil {
				t.Fatalf("key %s returned no command, want tea.Quit", tc.name)
			}
			if _, ok := cmd().(tea.QuitMsg); !ok {
				t.Errorf("key %s: command returned %T, want tea.QuitMsg", tc.name, cmd())
			}
		})
	}
}

func TestModel_SnapshotRendersRows(t *testing.T) {
	t.Parallel()
	m := newTestModel(t, 80, 24, colorprofile.Unknown, sampleRows())

	want := strings.Join([]string{
		"clusterctl monit  project shop                                  updated 17:03:36",
		"",
		"INSTANCE  NAME          STATE         RESTARTS  UPTIME    CPU%      MEM    LIMIT",
		"api.0     shop-…7b1d4e  ready                0    2h4m   12.3%  48.0MiB   256MiB",
		"api.1     shop-…5d7a2f  starting             0      3s    0.5%  3.00MiB   256MiB",
		"worker.0  shop-…123456  crashloop           17      1s       -        -        -",
		"worker.1  shop-…ef9876  exited (137)         4       -       -        -        -",
		"",
		"q quit",
	}, "\n")
	if got := m.View().Content; got != want {
		t.Errorf("View() =\n%s\nwant\n%s", got, want)
	}
}

func TestModel_TitleNarrows(t *testing.T) {
	t.Parallel()
	cases := []struct {
		width int
		want  string
	}{
		{60, "clusterctl monit  project shop              updated 17:03:36"},
		{40, "project shop            updated 17:03:36"},
		{20, "project shop"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.width), func(t *testing.T) {
			t.Parallel()
			m := newTestModel(t, tc.width, 24, colorprofile.Unknown, sampleRows())

			if got := strings.Split(m.View().Content, "\n")[0]; got != tc.want {
				t.Errorf("title = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestModel_WideTerminalShowsAllColumns(t *testing.T) {
	t.Parallel()
	m := newTestModel(t, 120, 24, colorprofile.Unknown, sampleRows())

	lines := strings.Split(m.View().Content, "\n")

	header := strings.Fields(lines[2])
	want := []string{"INSTANCE", "NAME", "STATE", "HEALTH", "RESTARTS", "UPTIME", "CPU%", "MEM", "LIMIT"}
	if strings.Join(header, " ") != strings.Join(want, " ") {
		t.Errorf("header = %v, want %v", header, want)
	}
	if !strings.Contains(lines[3], "shop-api-0-3f9c2a7b1d4e") {
		t.Errorf("row %q does not show the full container name", lines[3])
	}
}

func TestModel_NarrowTerminalHidesColumns(t *testing.T) {
	t.Parallel()
	cases := []struct {
		width   int
		visible []string
		hidden  []string
	}{
		{80, []string{"INSTANCE", "NAME", "STATE", "RESTARTS", "UPTIME", "CPU%", "MEM", "LIMIT"}, []string{"HEALTH"}},
		{60, []string{"INSTANCE", "STATE", "RESTARTS", "UPTIME", "CPU%", "MEM"}, []string{"HEALTH", "LIMIT", "NAME"}},
		{32, []string{"INSTANCE", "STATE", "MEM"}, []string{"HEALTH", "LIMIT", "NAME", "UPTIME", "RESTARTS", "CPU%"}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.width), func(t *testing.T) {
			t.Parallel()
			m := newTestModel(t, tc.width, 24, colorprofile.Unknown, sampleRows())

			header := " " + strings.Join(strings.Fields(strings.Split(m.View().Content, "\n")[2]), " ") + " "

			for _, name := range tc.visible {
				if !strings.Contains(header, " "+name+" ") {
					t.Errorf("width %d: header %q lacks %s", tc.width, header, name)
				}
			}
			for _, name := range tc.hidden {
				if strings.Contains(header, " "+name+" ") {
					t.Errorf("width %d: header %q shows %s", tc.width, header, name)
				}
			}
		})
	}
}

func TestModel_LinesFitWidth(t *testing.T) {
	t.Parallel()
	long := sampleRows()
	long[0].Service = strings.Repeat("very-long-service-name-", 4)
	long[0].Name = strings.Repeat("x", 120)
	long[1].CPUPercent, long[1].MemoryBytes = 1234.5, 1<<50
	profiles := map[string]colorprofile.Profile{"plain": colorprofile.Unknown, "ansi": colorprofile.ANSI}
	rowSets := map[string][]Row{"sample": sampleRows(), "long": long, "empty": {}}
	for _, width := range []int{80, 60, 40, 20} {
		for profileName, profile := range profiles {
			for rowsName, rows := range rowSets {
				t.Run(fmt.Sprintf("%d/%s/%s", width, profileName, rowsName), func(t *testing.T) {
					t.Parallel()
					m := newTestModel(t, width, 24, profile, rows)
					m = update(t, m, snapshotMsg{err: errors.New(strings.Repeat("engine unreachable ", 10))})

					for i, line := range strings.Split(m.View().Content, "\n") {
						if w := lipgloss.Width(line); w > width {
							t.Errorf("line %d is %d cells wide, more than %d: %q", i, w, width, line)
						}
					}
				})
			}
		}
	}
}

func TestModel_SourceErrorShown(t *testing.T) {
	t.Parallel()
	m := New(t.Context(), "shop", &fakeSource{results: []fakeResult{{err: errors.New("list containers: engine down")}}}, Options{})

	m = update(t, m, m.Init()())
	view := m.View().Content

	if !strings.Contains(view, "error: list containers: engine down") {
		t.Errorf("view does not show the source's error:\n%s", view)
	}
	if !strings.Contains(view, "no snapshot yet") {
		t.Errorf("view does not say that no snapshot arrived:\n%s", view)
	}
}

func TestModel_ErrorKeepsLastRows(t *testing.T) {
	t.Parallel()
	m := newTestModel(t, 80, 24, colorprofile.Unknown, sampleRows())

	m = update(t, m, snapshotMsg{err: errors.New("context deadline exceeded"), started: testTime.Add(time.Second)})
	view := m.View().Content

	for _, want := range []string{"api.0", "worker.1", "error: context deadline exceeded", "updated 17:03:36", "q quit"} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q after a failed snapshot:\n%s", want, view)
		}
	}

	m = update(t, m, snapshotMsg{rows: sampleRows()[:1], started: testTime.Add(2 * time.Second)})
	view = m.View().Content

	if strings.Contains(view, "error:") {
		t.Errorf("view still shows the error after a snapshot succeeded:\n%s", view)
	}
	if strings.Contains(view, "worker.0") || !strings.Contains(view, "updated 17:03:38") {
		t.Errorf("view does not show the new snapshot:\n%s", view)
	}
}

func TestModel_NoInstances(t *testing.T) {
	t.Parallel()
	m := newTestModel(t, 80, 24, colorprofile.Unknown, nil)

	if view := m.View().Content; !strings.Contains(view, "no instances in project shop; start them with clusterctl up") {
		t.Errorf("view of an empty project:\n%s", view)
	}
}

func TestModel_HeightLimitsRows(t *testing.T) {
	t.Parallel()
	var rows []Row
	for slot := range 30 {
		rows = append(rows, Row{Service: "api", Slot: slot, Name: fmt.Sprintf("shop-api-%d", slot), State: "ready"})
	}
	m := newTestModel(t, 80, 12, colorprofile.Unknown, rows)

	lines := strings.Split(m.View().Content, "\n")

	if len(lines) > 12 {
		t.Errorf("view has %d lines, more than the height 12:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if !strings.Contains(m.View().Content, "… 25 more instances") {
		t.Errorf("view does not count the hidden rows:\n%s", m.View().Content)
	}
	if lines[len(lines)-1] != "q quit" {
		t.Errorf("last line = %q, want the footer", lines[len(lines)-1])
	}
}

func TestModel_StateColors(t *testing.T) {
	t.Parallel()
	m := newTestModel(t, 80, 24, colorprofile.ANSI, sampleRows())

	lines := strings.Split(m.View().Content, "\n")

	cases := []struct {
		line int
		want string
	}{
		{3, "\x1b[32mready"},
		{4, "\x1b[33mstarting"},
		{5, "\x1b[31mcrashloop"},
		{6, "\x1b[31mexited (137)"},
	}
	for _, tc := range cases {
		if !strings.Contains(lines[tc.line], tc.want) {
			t.Errorf("line %q lacks %q", lines[tc.line], tc.want)
		}
	}
}

// TestModel_NoColor cannot run in parallel because it sets environment
// variables.
func TestModel_NoColor(t *testing.T) {
	t.Setenv("TERM", "xterm-256color")
	t.Setenv("CLICOLOR_FORCE", "")
	cases := []struct {
		noColor string
		escapes bool
	}{
		{"", true},
		{"1", false},
	}
	for _, tc := range cases {
		t.Run("NO_COLOR="+tc.noColor, func(t *testing.T) {
			t.Setenv("NO_COLOR", tc.noColor)
			profile := colorprofile.Env(os.Environ())
			m := newTestModel(t, 80, 24, profile, sampleRows())

			if got := strings.Contains(m.View().Content, "\x1b["); got != tc.escapes {
				t.Errorf("NO_COLOR=%q: view has escape sequences %v, want %v:\n%q", tc.noColor, got, tc.escapes, m.View().Content)
			}
		})
	}
}

func TestModel_PollsEveryInterval(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		source := &fakeSource{results: []fakeResult{{rows: sampleRows()}}}
		m := New(t.Context(), "shop", source, Options{Interval: 2 * time.Second})
		start := time.Now()

		msg := m.Init()()
		next, cmd := m.Update(msg)
		if cmd == nil {
			t.Fatal("snapshot scheduled no next poll")
		}
		if _, ok := cmd().(pollMsg); !ok {
			t.Fatal("scheduled command did not return pollMsg")
		}
		if waited := time.Since(start); waited != 2*time.Second {
			t.Errorf("next poll after %s, want 2s", waited)
		}
		_, cmd = next.Update(pollMsg{})
		if _, ok := cmd().(snapshotMsg); !ok {
			t.Error("pollMsg did not start a snapshot")
		}
		if source.calls != 2 {
			t.Errorf("source called %d times, want 2", source.calls)
		}
	})
}

func TestModel_StopsPollingWhenContextDone(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	m := New(ctx, "shop", &fakeSource{results: []fakeResult{{rows: sampleRows()}}}, Options{})
	cancel()

	_, cmd := m.Update(snapshotMsg{err: ctx.Err(), started: time.Now()})

	if cmd != nil {
		t.Error("a snapshot after the context ended scheduled another poll")
	}
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		bytes uint64
		want  string
	}{
		{0, "0B"},
		{1023, "1023B"},
		{1024, "1.00KiB"},
		{3153920, "3.01MiB"},
		{48 << 20, "48.0MiB"},
		{256 << 20, "256MiB"},
		{1023 << 20, "1023MiB"},
		{3 << 30, "3.00GiB"},
		{1 << 50, "1.00PiB"},
		{1 << 60, "1024PiB"},
	}
	for _, tc := range cases {
		if got := formatBytes(tc.bytes); got != tc.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tc.bytes, got, tc.want)
		}
	}
}

func TestFormatUptime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		uptime time.Duration
		want   string
	}{
		{0, "-"},
		{400 * time.Millisecond, "-"},
		{45 * time.Second, "45s"},
		{12*time.Minute + 5*time.Second, "12m5s"},
		{3*time.Hour + 4*time.Minute + 59*time.Second, "3h4m"},
		{53 * time.Hour, "2d5h"},
	}
	for _, tc := range cases {
		if got := formatUptime(tc.uptime); got != tc.want {
			t.Errorf("formatUptime(%s) = %q, want %q", tc.uptime, got, tc.want)
		}
	}
}

func TestTruncateMiddle(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in    string
		width int
		want  string
	}{
		{"shop-api-0-3f9c2a", 20, "shop-api-0-3f9c2a"},
		{"shop-api-0-3f9c2a", 9, "shop…9c2a"},
		{"shop-api-0-3f9c2a", 2, "…a"},
		{"shop-api-0-3f9c2a", 1, "s"},
		{"shop-api-0-3f9c2a", 0, ""},
	}
	for _, tc := range cases {
		if got := truncateMiddle(tc.in, tc.width); got != tc.want {
			t.Errorf("truncateMiddle(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}
