// Command batches reads the JSON progress events of one `clusterctl
// --progress json up` from stdin and prints, as one JSON object, how the
// rollout of one service spent its time:
//
//	{"batches":[{"slots":[0],"ready":S,"created_ready":S,"after":S,"steps":[...]}],
//	 "ready_sum":S,"created_ready_sum":S,"before":S,"span":S}
//
// All values are seconds. A batch is -parallelism consecutive "created"
// events of the service's instances, in time order; clusterctl replaces
// one batch completely before it creates the next. A batch starts at its
// "batch" event, which clusterctl prints right before it creates the
// batch's instances, or at its first created event when the events have
// no batch events. "ready" is the time from the batch's start to its last
// ready event, so it includes the engine's ContainerCreate calls, and
// ready_sum adds them up. "created_ready" and created_ready_sum measure
// from the first created event instead. "after" is the time from the last
// ready event to the next batch's start, or to the last event for the
// final batch: it covers swapping the instances in the front door and, at
// the end, removing the old instances. "before" is the time from the first
// event to the first batch's start, and span the time from the first event
// to the last, so span = before + the sum of every ready and after.
//
// "steps" splits a batch further. Its window runs from its start to the
// next batch's start, or to the last event for the final batch. Each kind
// of event of the batch's slots in that window, old and new instances
// alike, is one step. A step's time is its last event of that kind, steps
// are in time order, and each one's seconds count from the previous step.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// event is the part of a clusterctl progress event that batches reads.
type event struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Service   string    `json:"service"`
	Slot      int       `json:"slot"`
	Container string    `json:"container"`
}

// batch is one rollout batch in the output.
type batch struct {
	Slots        []int   `json:"slots"`
	Ready        float64 `json:"ready"`
	CreatedReady float64 `json:"created_ready"`
	After        float64 `json:"after"`
	Steps        []step  `json:"steps"`
}

// step is one kind of event of a batch's slots, such as "started" or
// "draining", with the seconds since the step before it.
type step struct {
	Kind    string  `json:"kind"`
	Seconds float64 `json:"seconds"`
}

// summary is the JSON object batches prints.
type summary struct {
	Batches         []batch `json:"batches"`
	ReadySum        float64 `json:"ready_sum"`
	CreatedReadySum float64 `json:"created_ready_sum"`
	Before          float64 `json:"before"`
	Span            float64 `json:"span"`
}

func main() {
	service := flag.String("service", "", "compose service whose rollout is measured (required)")
	parallelism := flag.Int("parallelism", 1, "deploy.update_config.parallelism of that service")
	flag.Parse()
	if *service == "" || *parallelism < 1 {
		fmt.Fprintln(os.Stderr, "batches: set -service and a -parallelism of 1 or more")
		os.Exit(2)
	}
	events, err := readEvents(os.Stdin)
	if err == nil {
		var s summary
		s, err = summarize(events, *service, *parallelism)
		if err == nil {
			err = json.NewEncoder(os.Stdout).Encode(s)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "batches:", err)
		os.Exit(1)
	}
}

// readEvents decodes one JSON event per line and skips lines that are not
// JSON objects, such as an error message printed at exit.
func readEvents(r io.Reader) ([]event, error) {
	var events []event
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for scanner.Scan() {
		var e event
		if json.Unmarshal(scanner.Bytes(), &e) != nil || e.Time.IsZero() {
			continue
		}
		events = append(events, e)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	if len(events) == 0 {
		return nil, errors.New("no JSON events on stdin: pipe in the stderr of clusterctl --progress json up")
	}
	slices.SortStableFunc(events, func(a, b event) int { return a.Time.Compare(b.Time) })
	return events, nil
}

// summarize groups the service's created events into batches and times
// each batch against the ready events of the same containers.
func summarize(events []event, service string, parallelism int) (summary, error) {
	created, ready, batchEvents := instanceEvents(events, service)
	if len(created) == 0 {
		return summary{}, fmt.Errorf("no created event for service %q: was it rolled out?", service)
	}
	chunks := slices.Collect(slices.Chunk(created, parallelism))
	starts := make([]time.Time, len(chunks))
	for i, chunk := range chunks {
		starts[i] = chunk[0].Time
		if len(batchEvents) == len(chunks) {
			starts[i] = batchEvents[i].Time
		}
	}
	first, last := events[0].Time, events[len(events)-1].Time
	s := summary{Before: starts[0].Sub(first).Seconds(), Span: last.Sub(first).Seconds()}
	var lastReady time.Time
	for i, chunk := range chunks {
		b, end, err := timeBatch(chunk, ready, starts[i])
		if err != nil {
			return summary{}, err
		}
		if n := len(s.Batches); n > 0 {
			s.Batches[n-1].After = starts[i].Sub(lastReady).Seconds()
		}
		lastReady = end
		s.Batches = append(s.Batches, b)
		s.ReadySum += b.Ready
		s.CreatedReadySum += b.CreatedReady
	}
	s.Batches[len(s.Batches)-1].After = last.Sub(lastReady).Seconds()
	for i := range s.Batches {
		end := last.Add(time.Nanosecond)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		s.Batches[i].Steps = timeSteps(events, service, s.Batches[i].Slots, starts[i], end)
	}
	return s, nil
}

// timeSteps returns the steps of the service's events for slots in the
// window [start, end), ordered by the time of their last event.
func timeSteps(events []event, service string, slots []int, start, end time.Time) []step {
	var kinds []string
	at := map[string]time.Time{}
	for _, e := range events {
		if e.Service != service || !slices.Contains(slots, e.Slot) || e.Time.Before(start) || !e.Time.Before(end) {
			continue
		}
		if _, seen := at[e.Kind]; !seen {
			kinds = append(kinds, e.Kind)
		}
		at[e.Kind] = e.Time
	}
	slices.SortStableFunc(kinds, func(a, b string) int { return at[a].Compare(at[b]) })
	steps := make([]step, 0, len(kinds))
	previous := start
	for _, kind := range kinds {
		steps = append(steps, step{Kind: kind, Seconds: at[kind].Sub(previous).Seconds()})
		previous = at[kind]
	}
	return steps
}

// instanceEvents returns the service's instance created events and its
// batch events in time order, and its ready events by container name.
func instanceEvents(events []event, service string) (created []event, ready map[string]time.Time, batches []event) {
	ready = map[string]time.Time{}
	for _, e := range events {
		if e.Service != service {
			continue
		}
		switch {
		case e.Kind == "batch":
			batches = append(batches, e)
		case e.Slot < 0:
		case e.Kind == "created":
			created = append(created, e)
		case e.Kind == "ready":
			ready[e.Container] = e.Time
		}
	}
	return created, ready, batches
}

// timeBatch returns one batch's slots and readiness times, from start and
// from its first created event, and the time of its last ready event.
func timeBatch(chunk []event, ready map[string]time.Time, start time.Time) (batch, time.Time, error) {
	b := batch{}
	var end time.Time
	for _, e := range chunk {
		at, ok := ready[e.Container]
		if !ok {
			return b, end, fmt.Errorf("container %s (slot %d) was created but never became ready", e.Container, e.Slot)
		}
		if at.After(end) {
			end = at
		}
		b.Slots = append(b.Slots, e.Slot)
	}
	b.Ready = end.Sub(start).Seconds()
	b.CreatedReady = end.Sub(chunk[0].Time).Seconds()
	return b, end, nil
}
