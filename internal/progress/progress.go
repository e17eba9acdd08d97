// Package progress renders the orchestrator's progress events for a person
// or a program reading stderr: a live view on a terminal, plain timestamped
// lines in CI logs, or one JSON object per line.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/clusterctl/clusterctl/orchestrator"
)

// Mode selects how a Renderer writes events.
type Mode string

// The modes accepted by --progress.
const (
	// ModeAuto picks ModeTTY when the output is a terminal and TERM is not
	// "dumb", and ModePlain otherwise.
	ModeAuto Mode = "auto"
	// ModeTTY redraws one line per instance in place with ANSI escapes.
	// NOTE: other output written to the same terminal while the view is
	// live, such as log lines, breaks the redraw, so it must go elsewhere.
	ModeTTY Mode = "tty"
	// ModePlain writes one timestamped line per event.
	ModePlain Mode = "plain"
	// ModeJSON writes one JSON-encoded orchestrator.Event per line.
	ModeJSON Mode = "json"
)

var modes = []Mode{ModeAuto, ModeTTY, ModePlain, ModeJSON}

// ParseMode returns the Mode named by s. The match is exact and
// case-sensitive. An unknown value returns an error that names it and lists
// the valid modes.
func ParseMode(s string) (Mode, error) {
	for _, m := range modes {
		if string(m) == s {
			return m, nil
		}
	}

	return "", fmt.Errorf("invalid progress mode %q: use one of auto, tty, plain, json", s)
}

// Renderer writes progress events to one writer in one mode. Its methods
// are safe for concurrent use.
type Renderer struct {
	mode  Mode
	sink  sink
	close sync.Once
}

// sink is the part of a Renderer that differs between modes.
type sink interface {
	report(e orchestrator.Event)
	close()
	err() error
}

// New returns a Renderer that writes to w, normally os.Stderr. ModeAuto
// resolves to ModeTTY when w is a terminal and the TERM environment
// variable is not "dumb", and to ModePlain otherwise. A value that is not
// one of the Mode constants is treated as ModeAuto. In ModeTTY New starts a
// goroutine that redraws the view until Close.
func New(mode Mode, w io.Writer) *Renderer {
	fd, isTerminal := terminalFD(w)
	mode = resolveMode(mode, isTerminal)

	r := &Renderer{mode: mode}
	switch mode {
	case ModeTTY:
		r.sink = newTTYView(w, terminalSize(fd, isTerminal), time.Now, redrawInterval)
	case ModeJSON:
		r.sink = newLineSink(w, formatJSON)
	default:
		r.sink = newLineSink(w, formatPlain)
	}

	return r
}

// Mode returns the mode the Renderer writes in, with ModeAuto resolved.
func (r *Renderer) Mode() Mode {
	return r.mode
}

// Report renders e. An event with a zero Time gets the current time.
// Events reported after Close are dropped. Report has the signature of
// orchestrator.Reporter, so r.Report can be passed as one.
func (r *Renderer) Report(e orchestrator.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	r.sink.report(e)
}

// Close writes what is still pending. In ModeTTY it stops the redraw
// goroutine and prints the final state of every line, which stays on the
// screen. Close does not close the underlying writer, and calls after the
// first do nothing.
func (r *Renderer) Close() {
	r.close.Do(r.sink.close)
}

// Err returns the first error the underlying writer returned, or nil.
// Report keeps writing after an error, because progress output must not
// stop the operation it describes.
func (r *Renderer) Err() error {
	return r.sink.err()
}

// terminalFD returns w's file descriptor and whether it is a terminal.
func terminalFD(w io.Writer) (int, bool) {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return -1, false
	}
	fd := int(f.Fd())

	return fd, term.IsTerminal(fd)
}

func resolveMode(mode Mode, isTerminal bool) Mode {
	switch mode {
	case ModeTTY, ModePlain, ModeJSON:
		return mode
	}
	if isTerminal && os.Getenv("TERM") != "dumb" {
		return ModeTTY
	}

	return ModePlain
}

// terminalSize returns a function that reports the terminal's size in
// columns and rows. It falls back to 80 columns and 0 rows, meaning no
// row limit, when the size is unknown.
func terminalSize(fd int, isTerminal bool) func() (width, height int) {
	return func() (int, int) {
		if !isTerminal {
			return defaultWidth, 0
		}
		width, height, err := term.GetSize(fd)
		if err != nil || width <= 0 {
			return defaultWidth, 0
		}

		return width, height
	}
}

// output is a writer that remembers its first error. Callers serialize
// access to it.
type output struct {
	w     io.Writer
	first error
}

func (o *output) write(p []byte) {
	if _, err := o.w.Write(p); err != nil && o.first == nil {
		o.first = fmt.Errorf("write progress: %w", err)
	}
}
