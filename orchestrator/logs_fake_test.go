package orchestrator

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// fakeLogs stores what fake containers printed and serves it as the engine
// does: multiplexed frames of one message each, timestamps on request,
// Tail and Since applied. A follow stream sends new messages as they are
// printed and ends when stop is called for its container.
type fakeLogs struct {
	mu   sync.Mutex
	byID map[string]*fakeLog
}

type fakeLog struct {
	messages []fakeMessage
	stopped  bool
	// changed is closed and replaced on every change.
	changed chan struct{}
}

type fakeMessage struct {
	stream stdcopy.StdType
	time   time.Time
	// text is sent as is: a complete line ends with a newline.
	text string
}

func newFakeLogs() *fakeLogs {
	return &fakeLogs{byID: map[string]*fakeLog{}}
}

// logLocked returns the log of a container. The caller holds l.mu.
func (l *fakeLogs) logLocked(id string) *fakeLog {
	log, ok := l.byID[id]
	if !ok {
		log = &fakeLog{changed: make(chan struct{})}
		l.byID[id] = log
	}
	return log
}

func (l *fakeLogs) change(id string, fn func(*fakeLog)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	log := l.logLocked(id)
	fn(log)
	close(log.changed)
	log.changed = make(chan struct{})
}

// print adds a message of stream 1 (stdout) or 2 (stderr) at time at.
func (l *fakeLogs) print(id string, stream stdcopy.StdType, at time.Time, text string) {
	l.change(id, func(log *fakeLog) {
		log.messages = append(log.messages, fakeMessage{stream: stream, time: at, text: text})
	})
}

// stop ends the follow streams of a container, as the engine does when a
// container stops, and start lets new streams follow again.
func (l *fakeLogs) stop(id string)  { l.change(id, func(log *fakeLog) { log.stopped = true }) }
func (l *fakeLogs) start(id string) { l.change(id, func(log *fakeLog) { log.stopped = false }) }

// remove deletes a container's log, so that the next request for it
// returns not found.
func (l *fakeLogs) remove(id string) {
	l.change(id, func(log *fakeLog) { log.stopped = true })
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byID, id)
}

func (l *fakeLogs) serve(ctx context.Context, id string, opts container.LogsOptions) (io.ReadCloser, error) {
	l.mu.Lock()
	_, ok := l.byID[id]
	l.mu.Unlock()
	if !ok {
		return nil, errdefs.ErrNotFound.WithMessage("no such container: " + id)
	}
	since, err := parseSinceParam(opts.Since)
	if err != nil {
		return nil, err
	}
	r, w := io.Pipe()
	go func() {
		w.CloseWithError(l.write(ctx, id, opts, since, w))
	}()
	return r, nil
}

func (l *fakeLogs) write(ctx context.Context, id string, opts container.LogsOptions, since time.Time, w io.Writer) error {
	l.mu.Lock()
	log := l.logLocked(id)
	var first []fakeMessage
	for _, m := range log.messages {
		if !m.time.Before(since) {
			first = append(first, m)
		}
	}
	if n, err := strconv.Atoi(opts.Tail); err == nil && n < len(first) {
		first = first[len(first)-n:]
	}
	next, stopped, changed := len(log.messages), log.stopped, log.changed
	l.mu.Unlock()
	if err := writeFakeMessages(w, first, opts.Timestamps); err != nil {
		return err
	}
	for opts.Follow && !stopped {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
		l.mu.Lock()
		fresh := append([]fakeMessage(nil), log.messages[next:]...)
		next, stopped, changed = len(log.messages), log.stopped, log.changed
		l.mu.Unlock()
		if err := writeFakeMessages(w, fresh, opts.Timestamps); err != nil {
			return err
		}
	}
	return nil
}

func writeFakeMessages(w io.Writer, messages []fakeMessage, timestamps bool) error {
	for _, m := range messages {
		text := m.text
		if timestamps {
			text = m.time.UTC().Format(timestampFormat) + " " + text
		}
		if _, err := stdcopy.NewStdWriter(w, m.stream).Write([]byte(text)); err != nil {
			return err
		}
	}
	return nil
}

// parseSinceParam reads the engine's since parameter as sinceParam writes it.
func parseSinceParam(value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	secs, nanos, _ := strings.Cut(value, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("fake engine: invalid since %q", value)
	}
	n, err := strconv.ParseInt(nanos, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("fake engine: invalid since %q", value)
	}
	return time.Unix(s, n), nil
}
