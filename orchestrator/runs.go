package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
)

// historyTimeout bounds one read of the engine's past events.
const historyTimeout = 5 * time.Second

// readRunHistories reads the runs of the containers that match args from
// the engine's create, start, kill, die and oom events since the given time, by
// container ID. The read ends at the current time, so the engine sends the
// events it keeps and closes the stream at once.
//
// The engine keeps only the exit code of the latest exit, and its
// State.OOMKilled is no record either: Docker 28 clears it when the
// container starts again, while Docker 20.10 keeps it set through every
// later run. These events are the only record of why earlier runs ended. A failed read returns what it got:
// callers fall back to the inspection alone.
func (o *Orchestrator) readRunHistories(ctx context.Context, args filters.Args, since time.Time) map[string]*runHistory {
	ctx, cancel := context.WithTimeout(ctx, historyTimeout)
	defer cancel()
	args.Add("type", string(events.ContainerEventType))
	for _, action := range []events.Action{events.ActionCreate, events.ActionStart, events.ActionKill, events.ActionDie, events.ActionOOM} {
		args.Add("event", string(action))
	}
	messages, errs := o.Engine.Events(ctx, events.ListOptions{
		Since: eventTime(since.Add(-time.Second)), Until: eventTime(time.Now()), Filters: args,
	})
	histories := map[string]*runHistory{}
	for {
		select {
		case msg := <-messages:
			h := histories[msg.Actor.ID]
			if h == nil {
				h = &runHistory{}
				histories[msg.Actor.ID] = h
			}
			h.add(msg)
		case err := <-errs:
			// The stream ends with io.EOF at the end time, or with the error
			// that cut it short; either way the events read so far stand.
			if err != nil && !errors.Is(err, io.EOF) {
				o.logger().Debug("read container events", "err", err)
			}
			return histories
		}
	}
}

// readRunHistory reads the run history of one container.
func (o *Orchestrator) readRunHistory(ctx context.Context, info container.InspectResponse) runHistory {
	args := filters.NewArgs(filters.Arg("container", info.ID))
	if h := o.readRunHistories(ctx, args, parseTime(info.Created)); h[info.ID] != nil {
		return *h[info.ID]
	}
	return runHistory{}
}

// add applies one event to the history. The engine sends events in the
// order it logged them. An oom event belongs to the latest run, whether
// the engine reports it before or after that run's die event.
func (h *runHistory) add(msg events.Message) {
	at := time.Unix(0, msg.TimeNano)
	if msg.TimeNano == 0 {
		at = time.Unix(msg.Time, 0)
	}
	var last *containerRun
	if len(h.Runs) > 0 {
		last = &h.Runs[len(h.Runs)-1]
	}
	switch msg.Action {
	case events.ActionCreate:
		h.Complete = true
	case events.ActionStart:
		h.Runs = append(h.Runs, containerRun{Started: at})
	case events.ActionKill:
		if last != nil && last.Exited.IsZero() {
			last.Signals = append(last.Signals, msg.Actor.Attributes["signal"])
		}
	case events.ActionOOM:
		if last == nil {
			h.Runs = append(h.Runs, containerRun{})
			last = &h.Runs[0]
		}
		last.OOMKilled = true
	case events.ActionDie:
		code, _ := strconv.Atoi(msg.Actor.Attributes["exitCode"])
		if last == nil || !last.Exited.IsZero() {
			h.Runs = append(h.Runs, containerRun{})
			last = &h.Runs[len(h.Runs)-1]
		}
		last.Exited, last.ExitCode = at, code
	}
}

// eventTime formats a time as the engine's since and until parameters
// take it: seconds and nanoseconds since the Unix epoch.
func eventTime(t time.Time) string {
	if t.IsZero() || t.Unix() < 0 {
		return "0"
	}
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}
