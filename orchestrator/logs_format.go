package orchestrator

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// logLine is one line that an instance printed.
type logLine struct {
	Service string
	Slot    int
	// Name is the container name.
	Name        string
	containerID string
	// Stream is "stdout" or "stderr". A container with a TTY has only stdout.
	Stream string
	// Time is when the engine received the line, or zero when the engine
	// sent no timestamp.
	Time    time.Time
	Message string
}

func (l logLine) prefix() string {
	return l.Service + "." + strconv.Itoa(l.Slot)
}

// timestampFormat is the layout of the times that logs --timestamps
// prints: RFC 3339 in UTC with nanoseconds always at full width, as in
// docker logs, so that lines stay aligned.
const timestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// logStreams are the engine's stream numbers of a multiplexed log stream,
// from the header of each frame.
var logStreams = map[byte]string{1: "stdout", 2: "stderr"}

// readLogMessages reads a log stream of the engine, requested with
// timestamps, and calls emit with each message until emit returns false or
// the stream ends. The stream of a container without a TTY is multiplexed
// in frames of one message each, because moby's WriteLogStream writes each
// message with one Write. So a line that an instance printed without a
// final newline just before it died stays a line of its own. The stream
// of a container with a TTY is raw text split at newlines. With timestamps
// requested, a raw stream begins with a digit and a multiplexed one with a
// stream number below 4, which distinguishes the two without an inspect.
func readLogMessages(r io.Reader, emit func(stream string, message []byte) bool) error {
	br := bufio.NewReaderSize(r, 32<<10)
	first, err := br.Peek(1)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if first[0] > 3 {
		return readRawMessages(br, emit)
	}
	return readFrames(br, emit)
}

func readFrames(r io.Reader, emit func(stream string, message []byte) bool) error {
	var header [8]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(r, header[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read log frame: %w", err)
		}
		size := int(binary.BigEndian.Uint32(header[4:]))
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("read log frame: %w", err)
		}
		stream, ok := logStreams[header[0]]
		if !ok {
			// Stream 3 carries an engine error in place of output.
			return fmt.Errorf("engine error in log stream: %s", bytes.TrimSpace(buf))
		}
		if !emit(stream, buf) {
			return nil
		}
	}
}

// NOTE: a raw stream has no frame boundaries, so in a TTY container a
// line printed without a final newline runs into the next message.
func readRawMessages(r *bufio.Reader, emit func(stream string, message []byte) bool) error {
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && !emit("stdout", line) {
			return nil
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
	}
}

// parseLogMessage splits one message of the engine, "TIMESTAMP TEXT", into
// lines. A message contains one line, except when a driver passed several
// through at once, and then each of them gets the message's time.
func parseLogMessage(base logLine, message []byte) []logLine {
	if stamp, rest, ok := bytes.Cut(message, []byte(" ")); ok {
		if t, err := time.Parse(time.RFC3339Nano, string(stamp)); err == nil {
			base.Time, message = t, rest
		}
	}
	message = bytes.TrimSuffix(message, []byte("\n"))
	var lines []logLine
	for text := range bytes.SplitSeq(message, []byte("\n")) {
		line := base
		line.Message = string(bytes.TrimSuffix(text, []byte("\r")))
		lines = append(lines, line)
	}
	return lines
}

// mergeByTime reads every source to its end and emits the lines in time
// order. Each source must be in time order itself, as one container's log
// is. Lines with equal times keep the order of their sources, so the lines
// of one instance are never reordered.
func mergeByTime(sources []<-chan logLine, emit func(logLine)) {
	heads := make([]*logLine, len(sources))
	next := func(i int) {
		heads[i] = nil
		if line, ok := <-sources[i]; ok {
			heads[i] = &line
		}
	}
	for i := range sources {
		next(i)
	}
	for {
		first := -1
		for i, head := range heads {
			if head != nil && (first < 0 || head.Time.Before(heads[first].Time)) {
				first = i
			}
		}
		if first < 0 {
			return
		}
		emit(*heads[first])
		next(first)
	}
}

// prefixColors are the ANSI foreground colors of instance prefixes: the
// normal and the bright variants of cyan, yellow, green, magenta and blue.
// Red is left out because it reads as an error.
var prefixColors = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

// logPrinter writes lines from several streams to one writer, whole lines
// at a time, as text with an aligned "service.slot |" prefix or as JSON.
type logPrinter struct {
	mu         sync.Mutex
	w          io.Writer
	timestamps bool
	json       bool
	color      bool
	width      int
	// colors maps an instance prefix to its color, assigned in order of
	// first appearance, so that a slot keeps its color across a
	// replacement of its container.
	colors map[string]string
	err    error
}

func newLogPrinter(w io.Writer, opts LogsOptions) *logPrinter {
	return &logPrinter{w: w, timestamps: opts.Timestamps, json: opts.JSON, color: opts.Color && !opts.JSON,
		colors: map[string]string{}}
}

// register reserves the prefix width and the color of an instance before
// its first line, so that the first lines of a run are aligned too.
func (p *logPrinter) register(service string, slot int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.registerLocked(service + "." + strconv.Itoa(slot))
}

func (p *logPrinter) registerLocked(prefix string) string {
	p.width = max(p.width, len(prefix))
	color, ok := p.colors[prefix]
	if !ok {
		color = prefixColors[len(p.colors)%len(prefixColors)]
		p.colors[prefix] = color
	}
	return color
}

// logRecord is one line of logs --json.
type logRecord struct {
	Service string    `json:"service"`
	Slot    int       `json:"slot"`
	Name    string    `json:"name"`
	Stream  string    `json:"stream"`
	Time    time.Time `json:"time,omitzero"`
	Message string    `json:"message"`
}

// print writes one line. The first write error is kept for err, and the
// lines after it are dropped.
func (p *logPrinter) print(l logLine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return
	}
	_, p.err = p.w.Write(p.format(l))
}

func (p *logPrinter) format(l logLine) []byte {
	color := p.registerLocked(l.prefix())
	if p.json {
		record := logRecord{Service: l.Service, Slot: l.Slot, Name: l.Name, Stream: l.Stream,
			Time: l.Time.UTC(), Message: l.Message}
		if l.Time.IsZero() {
			record.Time = time.Time{}
		}
		b, err := json.Marshal(record)
		if err != nil {
			// A logRecord holds only strings, numbers and a time.
			panic(err)
		}
		return append(b, '\n')
	}
	var b bytes.Buffer
	prefix := fmt.Sprintf("%-*s |", p.width, l.prefix())
	if p.color {
		prefix = "\x1b[" + color + "m" + prefix + "\x1b[0m"
	}
	b.WriteString(prefix)
	b.WriteByte(' ')
	if p.timestamps && !l.Time.IsZero() {
		b.WriteString(l.Time.UTC().Format(timestampFormat))
		b.WriteByte(' ')
	}
	b.WriteString(l.Message)
	b.WriteByte('\n')
	return b.Bytes()
}

func (p *logPrinter) writeErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return fmt.Errorf("write logs: %w", p.err)
	}
	return nil
}
