package orchestrator

import (
	"log/slog"
	"sync"
	"time"
)

// Default timeouts and limits. Each can be changed through the options of
// the command that uses it.
const (
	// DefaultParallelism bounds how many instances are created at once.
	DefaultParallelism = 8
	// DefaultReadyTimeout is the deadline for an instance without a
	// healthcheck budget or ready.timeout.
	DefaultReadyTimeout = 60 * time.Second
	// DefaultMinUptime is how long an instance without a healthcheck or ready
	// probe must run before it counts as ready, as PM2's min_uptime default.
	DefaultMinUptime = time.Second
	// readyMargin is added to a healthcheck's own budget, because the engine
	// runs the first check only after one interval.
	readyMargin = 10 * time.Second
	// pollInterval is how often the state of a container is read while
	// waiting for it.
	pollInterval = 200 * time.Millisecond
	// cleanupTimeout bounds the removal of what a failed or interrupted run
	// created.
	cleanupTimeout = 60 * time.Second
	// logTail is how many log lines a failure report shows.
	logTail = 20
)

// Orchestrator carries out commands against one Docker engine.
type Orchestrator struct {
	Engine Engine
	// Report receives progress events; nil discards them.
	Report Reporter
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Executable is the path of a static Linux clusterctl binary, from which
	// the front door and probe image is built when it is missing.
	Executable string
	// Version is clusterctl's version, recorded as a label of the front
	// door image.
	Version string
	// ToolImage, when set, is the image that runs front doors and probes,
	// used as it is instead of the image built from Executable.
	ToolImage string

	// toolMu guards toolTag, the tool image that an earlier call of
	// toolImage found or built, so that a command hashes its binary once.
	toolMu  sync.Mutex
	toolTag string
}

func (o *Orchestrator) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}
