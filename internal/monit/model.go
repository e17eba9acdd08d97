package monit

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// Options are the optional settings of New.
type Options struct {
	// Interval is the time from the start of one snapshot to the start of
	// the next, DefaultInterval when 0. A snapshot that takes longer is
	// followed at once by the next.
	Interval time.Duration
	// Timeout bounds one snapshot, DefaultSnapshotTimeout when 0.
	Timeout time.Duration
	// Profile is the styling that the terminal supports. The zero value,
	// NoTTY and ASCII mean plain text, so that NO_COLOR turns off bold and
	// faint text too. colorprofile.Detect(os.Stdout, os.Environ()) picks
	// the profile of the terminal and ASCII when NO_COLOR is set.
	Profile colorprofile.Profile
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Model is the bubbletea model of the view. Create it with New.
type Model struct {
	// ctx bounds every snapshot, because bubbletea commands take no
	// context of their own.
	ctx      context.Context
	project  string
	source   Source
	interval time.Duration
	timeout  time.Duration
	styles   styles
	now      func() time.Time

	width, height int
	rows          []Row
	err           error
	updated       time.Time
	loaded        bool
}

// snapshotMsg carries the result of one Source.Snapshot call.
type snapshotMsg struct {
	rows    []Row
	err     error
	started time.Time
}

// pollMsg starts the next snapshot.
type pollMsg struct{}

// New returns the view of project over source. Snapshots stop when ctx is
// done.
func New(ctx context.Context, project string, source Source, opts Options) Model {
	m := Model{
		ctx: ctx, project: project, source: source,
		interval: opts.Interval, timeout: opts.Timeout, now: opts.Now,
		styles: newStyles(opts.Profile),
	}
	if m.interval <= 0 {
		m.interval = DefaultInterval
	}
	if m.timeout <= 0 {
		m.timeout = DefaultSnapshotTimeout
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// Init starts the first snapshot.
func (m Model) Init() tea.Cmd {
	return m.poll
}

// Update quits on q, Esc and Ctrl-C, follows the terminal's size, and
// stores each snapshot and schedules the next one.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return m, keyCommand(msg)
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case snapshotMsg:
		m = m.store(msg)
		return m, m.schedule(msg.started)
	case pollMsg:
		return m, m.poll
	}
	return m, nil
}

func keyCommand(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "q", "esc", "ctrl+c":
		return tea.Quit
	}
	return nil
}

// store keeps the rows of a snapshot that succeeded. A failed snapshot only
// sets the error, so that the last rows stay on screen beside it.
func (m Model) store(msg snapshotMsg) Model {
	m.err = msg.err
	if msg.err == nil {
		m.rows = msg.rows
		m.updated = msg.started
		m.loaded = true
	}
	return m
}

// schedule returns the command that starts the next snapshot one interval
// after the last one started, or nil once ctx is done.
func (m Model) schedule(started time.Time) tea.Cmd {
	if m.ctx.Err() != nil {
		return nil
	}
	wait := m.interval - m.now().Sub(started)
	return tea.Tick(wait, func(time.Time) tea.Msg { return pollMsg{} })
}

// poll takes one snapshot. bubbletea runs it outside the update loop.
func (m Model) poll() tea.Msg {
	started := m.now()
	ctx, cancel := context.WithTimeout(m.ctx, m.timeout)
	defer cancel()
	rows, err := m.source.Snapshot(ctx)
	return snapshotMsg{rows: rows, err: err, started: started}
}
