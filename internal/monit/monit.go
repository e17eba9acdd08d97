// Package monit is the live terminal view behind clusterctl monit: a table
// of a project's instances with their state, restarts, uptime, CPU and
// memory, read from a Source once per interval and redrawn in place.
//
// The view is a bubbletea model, so it can be driven without a terminal:
// feed it messages with Update and read the screen with View.
package monit

import (
	"context"
	"time"
)

// Default settings of the view and of DockerSource.
const (
	// DefaultInterval is the time from the start of one snapshot to the
	// start of the next.
	DefaultInterval = time.Second
	// DefaultSnapshotTimeout bounds one snapshot, so that a stuck engine
	// shows as an error in the view instead of freezing it.
	DefaultSnapshotTimeout = 10 * time.Second
	// DefaultStatsParallelism bounds how many stats requests run at once.
	DefaultStatsParallelism = 8
)

// Source returns the current rows of the view.
type Source interface {
	// Snapshot returns one row per instance, sorted by service and slot.
	// An error replaces the whole snapshot. The view shows it and keeps the
	// rows of the last snapshot that succeeded.
	Snapshot(ctx context.Context) ([]Row, error)
}

// Row is one instance as the view shows it.
type Row struct {
	Service string
	Slot    int
	// Name is the container name.
	Name string
	// ID is the container ID.
	ID string
	// State is a ps state: starting, ready, unhealthy, crashloop, exited
	// or draining.
	State string
	// Health is the engine's health status, or "none" without a
	// healthcheck.
	Health   string
	Restarts int
	// ExitCode is the last exit code, shown for exited instances.
	ExitCode int
	// Uptime is how long the container has run since its last start, or 0
	// when it is not running.
	Uptime time.Duration
	// Measured reports whether CPUPercent and the memory fields come from
	// a stats sample. They are zero and shown as "-" otherwise.
	Measured bool
	// CPUPercent is the CPU time used over the sample interval, relative
	// to one CPU, as docker stats shows it: 200 means two full CPUs.
	CPUPercent float64
	// MemoryBytes is the memory usage without the page cache, as docker
	// stats shows it.
	MemoryBytes uint64
	// MemoryLimit is the container's memory limit in bytes, or 0 when the
	// container has none.
	MemoryLimit uint64
}
