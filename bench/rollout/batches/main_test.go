package main

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// rolloutEvents is a rollout of two slots with parallelism 1, as clusterctl
// prints it, with a front door event and a non-JSON line mixed in.
const rolloutEvents = `{"time":"2026-12-04T10:00:00Z","kind":"info","service":"web","slot":-1,"message":"rolling out"}
{"time":"2026-12-04T10:00:00.5Z","kind":"created","service":"web","slot":0,"container":"p-web-0-b"}
{"time":"2026-12-04T10:00:01.5Z","kind":"ready","service":"web","slot":0,"container":"p-web-0-b"}
{"time":"2026-12-04T10:00:01.6Z","kind":"draining","service":"web","slot":0,"container":"p-web-0-a"}
{"time":"2026-12-04T10:00:01.7Z","kind":"created","service":"web","slot":1,"container":"p-web-1-b"}
{"time":"2026-12-04T10:00:02.0Z","kind":"created","service":"other","slot":0,"container":"p-other-0-b"}
{"time":"2026-12-04T10:00:02.2Z","kind":"ready","service":"web","slot":1,"container":"p-web-1-b"}
{"time":"2026-12-04T10:00:02.3Z","kind":"ready","service":"web","slot":-1,"container":"p-web-frontdoor"}
not json: clusterctl exited
{"time":"2026-12-04T10:00:03Z","kind":"removed","service":"web","slot":1,"container":"p-web-1-a"}
`

func TestSummarize_Parallelism(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		parallelism int
		wantSlots   [][]int
		wantReady   []float64
		wantAfter   []float64
		wantSteps   []step // of the first batch
	}{
		{
			"one at a time", 1, [][]int{{0}, {1}}, []float64{1.0, 0.5}, []float64{0.2, 0.8},
			[]step{{"created", 0}, {"ready", 1.0}, {"draining", 0.1}},
		},
		{
			"both at once", 2, [][]int{{0, 1}}, []float64{1.7}, []float64{0.8},
			[]step{{"draining", 1.1}, {"created", 0.1}, {"ready", 0.5}, {"removed", 0.8}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events, err := readEvents(strings.NewReader(rolloutEvents))
			if err != nil {
				t.Fatalf("readEvents: %v", err)
			}
			s, err := summarize(events, "web", tt.parallelism)
			if err != nil {
				t.Fatalf("summarize: %v", err)
			}
			if len(s.Batches) != len(tt.wantSlots) {
				t.Fatalf("got %d batches, want %d: %+v", len(s.Batches), len(tt.wantSlots), s.Batches)
			}
			sum := 0.0
			for i, b := range s.Batches {
				if !slices.Equal(b.Slots, tt.wantSlots[i]) {
					t.Errorf("batch %d slots = %v, want %v", i, b.Slots, tt.wantSlots[i])
				}
				assertSeconds(t, "ready of batch", b.Ready, tt.wantReady[i])
				assertSeconds(t, "after of batch", b.After, tt.wantAfter[i])
				sum += tt.wantReady[i]
			}
			assertSeconds(t, "ready_sum", s.ReadySum, sum)
			assertSteps(t, s.Batches[0].Steps, tt.wantSteps)
			assertSeconds(t, "before", s.Before, 0.5)
			assertSeconds(t, "span", s.Span, 3.0)
		})
	}
}

// TestSummarize_BatchEvents times batches from their batch events, which
// come before the create calls, and keeps the times from the created
// events beside them.
func TestSummarize_BatchEvents(t *testing.T) {
	t.Parallel()
	input := `{"time":"2026-12-04T10:00:00Z","kind":"info","service":"web","slot":-1,"message":"rolling out"}
{"time":"2026-12-04T10:00:00.2Z","kind":"batch","service":"web","slot":-1,"message":"batch 1 of 2: slots 0"}
{"time":"2026-12-04T10:00:00.5Z","kind":"created","service":"web","slot":0,"container":"p-web-0-b"}
{"time":"2026-12-04T10:00:01.5Z","kind":"ready","service":"web","slot":0,"container":"p-web-0-b"}
{"time":"2026-12-04T10:00:01.6Z","kind":"batch","service":"web","slot":-1,"message":"batch 2 of 2: slots 1"}
{"time":"2026-12-04T10:00:01.7Z","kind":"batch","service":"other","slot":-1,"message":"batch 1 of 1: slots 0"}
{"time":"2026-12-04T10:00:01.9Z","kind":"created","service":"web","slot":1,"container":"p-web-1-b"}
{"time":"2026-12-04T10:00:02.2Z","kind":"ready","service":"web","slot":1,"container":"p-web-1-b"}
{"time":"2026-12-04T10:00:02.5Z","kind":"removed","service":"web","slot":1,"container":"p-web-1-a"}
`
	events, err := readEvents(strings.NewReader(input))
	if err != nil {
		t.Fatalf("readEvents: %v", err)
	}
	s, err := summarize(events, "web", 1)
	if err != nil {
		t.Fatalf("summarize: %v", err)
	}
	if len(s.Batches) != 2 {
		t.Fatalf("got %d batches, want 2: %+v", len(s.Batches), s.Batches)
	}
	assertSeconds(t, "ready of batch 0", s.Batches[0].Ready, 1.3)
	assertSeconds(t, "ready of batch 1", s.Batches[1].Ready, 0.6)
	assertSeconds(t, "created_ready of batch 0", s.Batches[0].CreatedReady, 1.0)
	assertSeconds(t, "created_ready of batch 1", s.Batches[1].CreatedReady, 0.3)
	assertSeconds(t, "after of batch 0", s.Batches[0].After, 0.1)
	assertSeconds(t, "after of batch 1", s.Batches[1].After, 0.3)
	assertSeconds(t, "ready_sum", s.ReadySum, 1.9)
	assertSeconds(t, "created_ready_sum", s.CreatedReadySum, 1.3)
	assertSeconds(t, "before", s.Before, 0.2)
	assertSteps(t, s.Batches[1].Steps, []step{{"created", 0.3}, {"ready", 0.3}, {"removed", 0.3}})
}

func TestSummarize_NeverReady(t *testing.T) {
	t.Parallel()
	input := `{"time":"2026-12-04T10:00:00Z","kind":"created","service":"web","slot":0,"container":"p-web-0-b"}
{"time":"2026-12-04T10:00:05Z","kind":"failed","service":"web","slot":0,"container":"p-web-0-b"}
`
	events, err := readEvents(strings.NewReader(input))
	if err != nil {
		t.Fatalf("readEvents: %v", err)
	}
	_, err = summarize(events, "web", 1)
	if err == nil || !strings.Contains(err.Error(), "never became ready") {
		t.Fatalf("summarize = %v, want an error naming the container that never became ready", err)
	}
}

func TestReadEvents_Empty(t *testing.T) {
	t.Parallel()
	if _, err := readEvents(strings.NewReader("usage error\n")); err == nil {
		t.Fatal("readEvents without JSON lines returned no error")
	}
}

func assertSteps(tb testing.TB, got, want []step) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("steps = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Kind != want[i].Kind {
			tb.Errorf("step %d kind = %q, want %q", i, got[i].Kind, want[i].Kind)
		}
		assertSeconds(tb, "seconds of step "+want[i].Kind, got[i].Seconds, want[i].Seconds)
	}
}

func assertSeconds(tb testing.TB, what string, got, want float64) {
	tb.Helper()
	if math.Abs(got-want) > 1e-9 {
		tb.Errorf("%s = %.3fs, want %.3fs", what, got, want)
	}
}
