package progress

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clusterctl/clusterctl/orchestrator"
)

const (
	// redrawInterval limits the live view to 10 redraws a second.
	redrawInterval = 100 * time.Millisecond
	// defaultWidth is the width in columns used when the terminal's is unknown.
	defaultWidth = 80
	// elapsedWidth is the column width of the elapsed time, as in "12.3s".
	elapsedWidth = 6
)

// ANSI escapes that move the cursor up n lines and erase from the cursor to
// the end of the screen.
const (
	cursorUpFormat   = "\x1b[%dA"
	eraseBelowCursor = "\r\x1b[J"
)

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

const (
	markDone    = "✔"
	markFailed  = "✘"
	markWarning = "!"
	// markUnfinished marks a line that was still in progress at Close.
	markUnfinished = "-"
)

// lineKey identifies one line of the live view. name is the container
// name, or the message for a project event without a container, since the
// orchestrator reports each network and volume only in the message.
type lineKey struct {
	service string
	slot    int
	name    string
}

func keyOf(e orchestrator.Event) lineKey {
	name := e.Container
	if e.Service == "" && e.Container == "" {
		name = e.Message
	}

	return lineKey{e.Service, e.Slot, name}
}

// line is one instance or one service-level item, such as a front door, a
// build or a network, with its latest event.
type line struct {
	key    lineKey
	latest orchestrator.Event
	// since is when the current phase began: the first event, or the first
	// in-progress event after a finished one, such as draining after ready.
	since time.Time
	done  bool
}

// ttyView is the live terminal view. Report updates lines and a ticker
// goroutine redraws them; only the goroutine and close write to out.
type ttyView struct {
	mu    sync.Mutex
	out   output
	size  func() (width, height int)
	now   func() time.Time
	lines []*line
	index map[lineKey]*line
	// scrollback contains warning and failure lines to print above the live
	// area at the next redraw, so they stay in the terminal's history.
	scrollback []string
	drawn      int
	frame      int
	dirty      bool
	closed     bool
	stop       chan struct{}
	stopped    chan struct{}
}

// newTTYView returns a view that writes to w. With a positive interval it
// starts the redraw goroutine, and tests pass 0 to call tick themselves.
func newTTYView(w io.Writer, size func() (int, int), now func() time.Time,
	interval time.Duration) *ttyView {
	v := &ttyView{
		out:   output{w: w},
		size:  size,
		now:   now,
		index: make(map[lineKey]*line),
	}
	if interval > 0 {
		v.stop = make(chan struct{})
		v.stopped = make(chan struct{})
		go v.run(interval)
	}

	return v
}

func (v *ttyView) run(interval time.Duration) {
	defer close(v.stopped)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	for {
		select {
		case <-v.stop:
			return
		case <-ticker.C:
			v.tick()
		}
	}
}

func (v *ttyView) report(e orchestrator.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}

	l := v.find(e)
	if l == nil {
		l = &line{key: keyOf(e), since: e.Time}
		v.lines = append(v.lines, l)
		v.index[l.key] = l
	}
	l.update(e)

	if e.Kind == orchestrator.EventWarning || e.Kind == orchestrator.EventFailed {
		v.scrollback = append(v.scrollback, e.Time.Format(plainTimeLayout)+" "+describe(e))
	}
	v.dirty = true
}

// find returns the line e belongs to, or nil for a new line. An instance
// event without a container name goes to the newest line of its slot, and
// the first event with a name claims the slot's line that had none yet.
func (v *ttyView) find(e orchestrator.Event) *line {
	key := keyOf(e)
	if l, ok := v.index[key]; ok {
		return l
	}
	if e.Slot < 0 {
		return nil
	}
	if e.Container == "" {
		return v.newestInSlot(e.Service, e.Slot)
	}

	unnamed := lineKey{e.Service, e.Slot, ""}
	l, ok := v.index[unnamed]
	if !ok {
		return nil
	}
	delete(v.index, unnamed)
	l.key = key
	v.index[key] = l

	return l
}

func (v *ttyView) newestInSlot(service string, slot int) *line {
	for i := len(v.lines) - 1; i >= 0; i-- {
		l := v.lines[i]
		if l.key.service == service && l.key.slot == slot {
			return l
		}
	}

	return nil
}

// update records e as the line's latest event. Warnings, infos and kinds
// this package does not know keep the line's phase.
func (l *line) update(e orchestrator.Event) {
	done, known := finished(e.Kind, e.Slot)
	if !known {
		done = l.done || l.latest.Kind == ""
	}
	if l.done && !done {
		l.since = e.Time
	}
	l.latest = e
	l.done = done
}

// finished reports whether kind ends a phase, and whether kind has a phase
// at all. Created and started lead to waiting and ready for an instance,
// but end the phase of a network, a volume or a front door (Slot -1).
func finished(kind orchestrator.EventKind, slot int) (done, known bool) {
	switch kind {
	case orchestrator.EventCreated, orchestrator.EventStarted:
		return slot < 0, true
	case orchestrator.EventBuilding, orchestrator.EventWaiting, orchestrator.EventDraining,
		orchestrator.EventStopping:
		return false, true
	case orchestrator.EventBuilt, orchestrator.EventReady, orchestrator.EventStopped,
		orchestrator.EventRemoved, orchestrator.EventFailed, orchestrator.EventUpToDate,
		orchestrator.EventCleanedUp:
		return true, true
	default:
		return false, false
	}
}

// tick advances the spinner and redraws when a line changed or a line is in
// progress, since its elapsed time then changes.
func (v *ttyView) tick() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}

	v.frame++
	if v.dirty || v.anyInProgress() {
		v.draw(false)
	}
}

func (v *ttyView) anyInProgress() bool {
	for _, l := range v.lines {
		if !l.done {
			return true
		}
	}

	return false
}

// close stops the redraw goroutine, then draws every line one last time
// and leaves the result on the screen.
func (v *ttyView) close() {
	if v.stop != nil {
		close(v.stop)
		<-v.stopped
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	v.draw(true)
}

func (v *ttyView) err() error {
	v.mu.Lock()
	defer v.mu.Unlock()

	return v.out.first
}

// draw erases the live area, prints pending scrollback lines, and prints
// the live area again, all in one write. The final draw prints every line,
// and other draws fit the terminal's height so cursor-up can reach the top.
// NOTE: when the terminal gets narrower between two draws, it rewraps the
// old rows, so cursor-up misses some and their text stays on the screen.
func (v *ttyView) draw(final bool) {
	width, height := v.size()
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, cursorUpFormat, v.drawn)
		b.WriteString(eraseBelowCursor)
	}
	for _, s := range v.scrollback {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	v.scrollback = nil

	limit := height - 1
	if final {
		limit = 0
	}
	rows := v.rows(max(width-1, 1), limit, final)
	for _, row := range rows {
		b.WriteString(row)
		b.WriteByte('\n')
	}

	v.drawn = len(rows)
	v.dirty = false
	v.out.write([]byte(b.String()))
}

// rows returns the live area's text, at most maxRows rows (no limit when
// maxRows <= 0) and at most columns wide. The last column of the terminal
// stays empty, so no terminal wraps a row and breaks the cursor-up count.
func (v *ttyView) rows(columns, maxRows int, final bool) []string {
	shown, hidden := pickLines(v.lines, maxRows)
	labelWidth := 0
	for _, l := range shown {
		labelWidth = max(labelWidth, textWidth(l.label()))
	}
	labelWidth = min(labelWidth, columns/2)

	now := v.now()
	rows := make([]string, 0, len(shown)+1)
	for _, l := range shown {
		rows = append(rows, truncate(v.row(l, labelWidth, now, final), columns))
	}
	if hidden > 0 {
		rows = append(rows, truncate("  +"+strconv.Itoa(hidden)+" more", columns))
	}

	return rows
}

// row formats a line as its mark, label, elapsed time and latest state.
func (v *ttyView) row(l *line, labelWidth int, now time.Time, final bool) string {
	label := pad(truncate(l.label(), labelWidth), labelWidth)
	elapsed := formatElapsed(l.elapsed(now))
	state := sanitize(string(l.latest.Kind))
	if l.latest.Message != "" {
		state += " (" + sanitize(l.latest.Message) + ")"
	}

	return fmt.Sprintf("%s %s  %*s  %s", v.mark(l, final), label, elapsedWidth, elapsed, state)
}

func (v *ttyView) mark(l *line, final bool) string {
	switch {
	case l.latest.Kind == orchestrator.EventFailed:
		return markFailed
	case !l.done && final:
		return markUnfinished
	case !l.done:
		return spinnerFrames[v.frame%len(spinnerFrames)]
	case l.latest.Kind == orchestrator.EventWarning:
		return markWarning
	default:
		return markDone
	}
}

// label names the line: the container when known, else the event's subject.
func (l *line) label() string {
	if l.latest.Container != "" {
		return sanitize(l.latest.Container)
	}

	return sanitize(subject(l.latest))
}

// elapsed returns the length of the current phase: up to its last event
// when it finished, up to now while it is in progress.
func (l *line) elapsed(now time.Time) time.Duration {
	end := now
	if l.done {
		end = l.latest.Time
	}

	return max(end.Sub(l.since), 0)
}

// pickLines returns at most maxRows-1 lines in their original order, plus
// the number left out, when lines exceed maxRows. It keeps lines in
// progress and failed lines first, then the newest others.
func pickLines(lines []*line, maxRows int) ([]*line, int) {
	if maxRows <= 0 || len(lines) <= maxRows {
		return lines, 0
	}

	keep := maxRows - 1
	chosen := make([]bool, len(lines))
	count := 0
	for i, l := range lines {
		if count < keep && (!l.done || l.latest.Kind == orchestrator.EventFailed) {
			chosen[i] = true
			count++
		}
	}
	for i := len(lines) - 1; i >= 0 && count < keep; i-- {
		if !chosen[i] {
			chosen[i] = true
			count++
		}
	}

	shown := make([]*line, 0, keep)
	for i, l := range lines {
		if chosen[i] {
			shown = append(shown, l)
		}
	}

	return shown, len(lines) - len(shown)
}

// formatElapsed returns d as "4.2s", "3m07s" or "1h05m".
func formatElapsed(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
