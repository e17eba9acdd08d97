package orchestrator

import "time"

// EventKind names a step in the life of a service or an instance.
type EventKind string

// The events the orchestrator reports. Instance events carry a slot;
// service and project events carry Slot -1.
const (
	// EventBatch starts a rollout batch: clusterctl is about to create the
	// new instances of its slots.
	EventBatch     EventKind = "batch"
	EventBuilding  EventKind = "building"
	EventBuilt     EventKind = "built"
	EventCreated   EventKind = "created"
	EventStarted   EventKind = "started"
	EventWaiting   EventKind = "waiting"
	EventReady     EventKind = "ready"
	EventDraining  EventKind = "draining"
	EventStopping  EventKind = "stopping"
	EventStopped   EventKind = "stopped"
	EventRemoved   EventKind = "removed"
	EventFailed    EventKind = "failed"
	EventWarning   EventKind = "warning"
	EventInfo      EventKind = "info"
	EventUpToDate  EventKind = "up-to-date"
	EventCleanedUp EventKind = "cleaned-up"
)

// Event is one progress report. The CLI renders events for a terminal, as
// plain lines, or as JSON lines.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    EventKind `json:"kind"`
	Project string    `json:"project,omitempty"`
	// Service is empty for project-wide events such as networks.
	Service string `json:"service,omitempty"`
	// Slot is the instance's slot, or -1 for an event about a service, a
	// front door, a network or the project.
	Slot int `json:"slot"`
	// Container is the container's name when the event is about one.
	Container string `json:"container,omitempty"`
	Message   string `json:"message,omitempty"`
}

// Reporter receives progress events. It is called from several goroutines
// at once and must be safe for that.
type Reporter func(Event)

func (r Reporter) emit(e Event) {
	if r == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	r(e)
}
