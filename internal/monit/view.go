package monit

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/clusterctl/clusterctl/orchestrator"
)

// defaultWidth is the width of the view before the terminal reports its
// size.
const defaultWidth = 80

// chromeLines counts the lines around the table: title, blank line, table
// header, blank line, error line and footer.
const chromeLines = 6

type styles struct {
	title, header, footer, err lipgloss.Style
	states                     map[string]lipgloss.Style
}

// newStyles returns the styles of profile. Profiles without colors get
// plain styles. The others get the first eight ANSI colors, which every
// color terminal has.
func newStyles(profile colorprofile.Profile) styles {
	if profile <= colorprofile.ASCII {
		plain := lipgloss.NewStyle()
		return styles{title: plain, header: plain, footer: plain, err: plain}
	}
	green := lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	yellow := lipgloss.NewStyle().Foreground(lipgloss.Color("3"))
	red := lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
	return styles{
		title:  lipgloss.NewStyle().Bold(true),
		header: lipgloss.NewStyle().Bold(true),
		footer: lipgloss.NewStyle().Faint(true),
		err:    red,
		states: map[string]lipgloss.Style{
			orchestrator.StateReady:     green,
			orchestrator.StateStarting:  yellow,
			orchestrator.StateDraining:  yellow,
			orchestrator.StateCrashloop: red,
			orchestrator.StateUnhealthy: red,
			orchestrator.StateExited:    red,
		},
	}
}

// View returns the screen on the terminal's alternate screen, so that the
// view redraws in place and the shell's screen comes back on quit.
func (m Model) View() tea.View {
	view := tea.NewView(m.screen())
	view.AltScreen = true
	return view
}

// screen renders the screen. No line is wider than the terminal: the table
// first narrows the instance and name columns, then hides columns, and
// every line is cut at the width as a last resort.
func (m Model) screen() string {
	width := m.width
	if width <= 0 {
		width = defaultWidth
	}
	lines := []string{m.title(width), ""}
	lines = append(lines, m.body(width)...)
	lines = append(lines, "")
	if m.err != nil {
		message := strings.Join(strings.Fields("error: "+m.err.Error()), " ")
		lines = append(lines, m.styles.err.Render(ansi.Truncate(message, width, "…")))
	}
	lines = append(lines, m.styles.footer.Render("q quit"))
	for i, line := range lines {
		lines[i] = ansi.Truncate(line, width, "")
	}
	return strings.Join(lines, "\n")
}

// title returns the project name on the left and the time of the last
// snapshot on the right. A narrow terminal loses the program name first,
// then the time.
func (m Model) title(width int) string {
	right := "loading"
	if m.loaded {
		right = "updated " + m.updated.Format("15:04:05")
	}
	for _, left := range []string{"clusterctl monit  project " + m.project, "project " + m.project} {
		space := width - lipgloss.Width(left) - lipgloss.Width(right)
		if space >= columnGap {
			return m.styles.title.Render(left) + strings.Repeat(" ", space) + right
		}
	}
	return m.styles.title.Render("project " + m.project)
}

// body returns the table, or a line that explains why there is none. Rows that
// do not fit the terminal's height are counted on a last line.
func (m Model) body(width int) []string {
	switch {
	case !m.loaded && m.err == nil:
		return []string{"reading instances…"}
	case !m.loaded:
		return []string{"no snapshot yet"}
	case len(m.rows) == 0:
		return []string{"no instances in project " + m.project + "; start them with clusterctl up"}
	}
	rows := m.rows
	hidden := 0
	if room := m.height - chromeLines; m.height > 0 && len(rows) > max(room, 1) {
		visibleRows := max(room-1, 1)
		hidden = len(rows) - visibleRows
		rows = rows[:visibleRows]
	}
	lines := m.table(rows, width)
	if hidden > 0 {
		lines = append(lines, fmt.Sprintf("… %d more instances; enlarge the terminal to see them", hidden))
	}
	return lines
}

// table renders the header line and one line per row.
func (m Model) table(rows []Row, width int) []string {
	cells := make([][]string, len(rows))
	for i, row := range rows {
		cells[i] = rowCells(row)
	}
	widths := layout(cells, width)
	lines := []string{m.styles.header.Render(joinCells(headers(), widths, nil))}
	for i, row := range rows {
		style := m.styles.states[row.State]
		lines = append(lines, joinCells(cells[i], widths, &style))
	}
	return lines
}

// joinCells pads each visible cell to its column's width. stateStyle, when
// set, colors the state cell.
func joinCells(cells []string, widths []int, stateStyle *lipgloss.Style) string {
	var b strings.Builder
	for i, cell := range cells {
		if widths[i] == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(strings.Repeat(" ", columnGap))
		}
		b.WriteString(pad(cell, widths[i], columns[i], stateStyle))
	}
	return strings.TrimRight(b.String(), " ")
}

func pad(cell string, width int, col column, stateStyle *lipgloss.Style) string {
	if lipgloss.Width(cell) > width {
		cell = truncateMiddle(cell, width)
	}
	fill := strings.Repeat(" ", width-lipgloss.Width(cell))
	if col.state && stateStyle != nil {
		cell = stateStyle.Render(cell)
	}
	if col.right {
		return fill + cell
	}
	return cell + fill
}

// truncateMiddle shortens s to width cells with "…" in the middle, because
// the end of an instance or container name is what differs between
// instances.
func truncateMiddle(s string, width int) string {
	runes := []rune(s)
	if len(runes) <= width {
		return s
	}
	if width <= 1 {
		return string(runes[:width])
	}
	head := (width - 1) / 2
	tail := width - 1 - head
	return string(runes[:head]) + "…" + string(runes[len(runes)-tail:])
}
