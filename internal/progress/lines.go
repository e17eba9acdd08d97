package progress

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/clusterctl/clusterctl/orchestrator"
)

// plainTimeLayout is RFC 3339 with milliseconds and the zone, such as
// 2026-12-04T16:40:01.123Z or 2026-12-04T18:40:01.123+02:00.
const plainTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// lineSink writes each event as one line, for ModePlain and ModeJSON.
type lineSink struct {
	mu     sync.Mutex
	out    output
	format func(orchestrator.Event) []byte
	closed bool
}

func newLineSink(w io.Writer, format func(orchestrator.Event) []byte) *lineSink {
	return &lineSink{out: output{w: w}, format: format}
}

func (s *lineSink) report(e orchestrator.Event) {
	line := s.format(e)

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.out.write(line)
	}
}

func (s *lineSink) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}

func (s *lineSink) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.out.first
}

// formatPlain returns e as one line ending in a newline, such as
//
//	2026-12-04T16:40:01.123Z web.0 ready demo-web-0-1a2b3c (healthy after 1.2s)
//
// The fields are the time, the subject, the kind, the container name when
// set, and the message in parentheses when set. Control characters are
// escaped, so every event stays on one line.
func formatPlain(e orchestrator.Event) []byte {
	var b strings.Builder
	b.WriteString(e.Time.Format(plainTimeLayout))
	b.WriteByte(' ')
	b.WriteString(describe(e))
	b.WriteByte('\n')

	return []byte(b.String())
}

// describe returns the plain line of e without its time.
func describe(e orchestrator.Event) string {
	var b strings.Builder
	b.WriteString(sanitize(subject(e)))
	b.WriteByte(' ')
	b.WriteString(sanitize(string(e.Kind)))
	if e.Container != "" {
		b.WriteByte(' ')
		b.WriteString(sanitize(e.Container))
	}
	if e.Message != "" {
		b.WriteString(" (")
		b.WriteString(sanitize(e.Message))
		b.WriteByte(')')
	}

	return b.String()
}

// subject returns "service.slot" for an instance event, "service" for a
// service event (Slot -1), and "project" when the event names no service.
func subject(e orchestrator.Event) string {
	switch {
	case e.Service == "":
		return "project"
	case e.Slot < 0:
		return e.Service
	default:
		return e.Service + "." + strconv.Itoa(e.Slot)
	}
}

// formatJSON returns e's JSON encoding followed by a newline. HTML
// characters are not escaped, so messages stay readable.
func formatJSON(e orchestrator.Event) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		// The only field that can fail is Time: time.Time.MarshalJSON rejects
		// a year outside 0..9999. The warning line is still valid JSON.
		message, _ := json.Marshal("encode progress event: " + err.Error())
		return []byte(`{"kind":"warning","slot":-1,"message":` + string(message) + "}\n")
	}

	return buf.Bytes()
}

// sanitize escapes control characters, such as newlines and the ANSI
// escapes a container may print, as Go string escapes (\n, \x1b), and
// replaces invalid UTF-8 with U+FFFD.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}

	var b strings.Builder
	for _, r := range s {
		if !unicode.IsControl(r) {
			b.WriteRune(r)
			continue
		}
		quoted := strconv.QuoteRune(r)
		b.WriteString(quoted[1 : len(quoted)-1])
	}

	return b.String()
}
