package monit

import (
	"fmt"
	"strconv"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/clusterctl/clusterctl/orchestrator"
)

// columnGap is the number of spaces between two columns.
const columnGap = 2

// column describes one column of the table.
type column struct {
	header string
	// floor is the narrowest width of a column that never narrows, so that
	// it keeps its width while its values change between snapshots.
	floor int
	// shrinkTo is the narrowest width of a column that narrows, by cutting
	// its values in the middle. 0 means that the column never narrows.
	shrinkTo int
	right    bool
	state    bool
	cell     func(Row) string
}

// columns lists the columns from left to right.
var columns = []column{
	{header: "INSTANCE", shrinkTo: 8, cell: func(r Row) string { return r.Service + "." + strconv.Itoa(r.Slot) }},
	{header: "NAME", shrinkTo: 10, cell: func(r Row) string { return r.Name }},
	{header: "STATE", floor: len(orchestrator.StateCrashloop), state: true, cell: stateCell},
	{header: "HEALTH", cell: func(r Row) string { return r.Health }},
	{header: "RESTARTS", right: true, cell: func(r Row) string { return strconv.Itoa(r.Restarts) }},
	{header: "UPTIME", right: true, cell: func(r Row) string { return formatUptime(r.Uptime) }},
	{header: "CPU%", floor: len("100.0%"), right: true, cell: cpuCell},
	{header: "MEM", floor: len("99.9MiB"), right: true, cell: memoryCell},
	{header: "LIMIT", floor: len("99.9MiB"), right: true, cell: limitCell},
}

// Column indexes used by shrinkOrder and hideOrder.
const (
	colInstance = iota
	colName
	colState
	colHealth
	colRestarts
	colUptime
	colCPU
	colMemory
	colLimit
)

// shrinkOrder lists the columns that narrow on a small terminal, first
// narrowed first.
var shrinkOrder = []int{colName, colInstance}

// hideOrder lists the columns that a terminal too small for the narrowed
// table hides, first hidden first. INSTANCE, STATE and MEM always show.
var hideOrder = []int{colHealth, colLimit, colName, colUptime, colRestarts, colCPU}

func headers() []string {
	out := make([]string, len(columns))
	for i, col := range columns {
		out[i] = col.header
	}
	return out
}

func rowCells(row Row) []string {
	out := make([]string, len(columns))
	for i, col := range columns {
		out[i] = col.cell(row)
	}
	return out
}

// layout returns the width of each column for a terminal of width cells,
// 0 for a hidden column. It narrows the columns in shrinkOrder before it
// hides any column, and hides only until the table fits.
func layout(cells [][]string, width int) []int {
	natural := naturalWidths(cells)
	visible := make([]bool, len(columns))
	for i := range visible {
		visible[i] = true
	}
	widths, fits := fit(natural, visible, width)
	for _, hide := range hideOrder {
		if fits {
			break
		}
		visible[hide] = false
		widths, fits = fit(natural, visible, width)
	}
	return widths
}

// naturalWidths returns the width each column needs to show its header and
// every cell in full.
func naturalWidths(cells [][]string) []int {
	widths := make([]int, len(columns))
	for i, col := range columns {
		widths[i] = max(len(col.header), col.floor)
	}
	for _, row := range cells {
		for i, cell := range row {
			widths[i] = max(widths[i], lipgloss.Width(cell))
		}
	}
	return widths
}

// fit returns the widths of the visible columns, narrowed as far as
// shrinkOrder allows, and whether the table fits in width cells.
func fit(natural []int, visible []bool, width int) ([]int, bool) {
	widths := make([]int, len(natural))
	total := -columnGap
	for i, w := range natural {
		if visible[i] {
			widths[i] = w
			total += w + columnGap
		}
	}
	for _, i := range shrinkOrder {
		if !visible[i] || total <= width {
			continue
		}
		cut := min(total-width, widths[i]-min(columns[i].shrinkTo, widths[i]))
		widths[i] -= cut
		total -= cut
	}
	return widths, total <= width
}

func stateCell(r Row) string {
	if r.State == orchestrator.StateExited {
		return fmt.Sprintf("exited (%d)", r.ExitCode)
	}
	return r.State
}

func cpuCell(r Row) string {
	if !r.Measured {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", r.CPUPercent)
}

func memoryCell(r Row) string {
	if !r.Measured {
		return "-"
	}
	return formatBytes(r.MemoryBytes)
}

func limitCell(r Row) string {
	if !r.Measured || r.MemoryLimit == 0 {
		return "-"
	}
	return formatBytes(r.MemoryLimit)
}

// formatBytes prints n in binary units with three significant digits, as
// 512B, 9.87KiB, 98.7MiB or 987MiB.
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + "B"
	}
	value := float64(n)
	suffixes := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	i := -1
	for value >= unit && i < len(suffixes)-1 {
		value /= unit
		i++
	}
	switch {
	case value < 10:
		return fmt.Sprintf("%.2f%s", value, suffixes[i])
	case value < 100:
		return fmt.Sprintf("%.1f%s", value, suffixes[i])
	default:
		return fmt.Sprintf("%.0f%s", value, suffixes[i])
	}
}

// formatUptime prints d with its two largest units, as 45s, 12m5s, 3h4m or
// 2d5h, and "-" for 0.
func formatUptime(d time.Duration) string {
	d = d.Truncate(time.Second)
	days := int(d / (24 * time.Hour))
	hours := int(d / time.Hour % 24)
	minutes := int(d / time.Minute % 60)
	seconds := int(d / time.Second % 60)
	switch {
	case d <= 0:
		return "-"
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh%dm", hours, minutes)
	case minutes > 0:
		return fmt.Sprintf("%dm%ds", minutes, seconds)
	default:
		return fmt.Sprintf("%ds", seconds)
	}
}
