package orchestrator

import "errors"

// Sentinel errors. Errors returned by the orchestrator wrap one of these
// where the CLI needs to tell them apart.
var (
	// ErrImageMissing is returned when an image is not on the engine and the
	// service has no build section. clusterctl never pulls.
	ErrImageMissing = errors.New("image not present")
	// ErrNotReady is returned when an instance crashed or missed its
	// readiness deadline.
	ErrNotReady = errors.New("instance not ready")
	// ErrPortInUse is returned when a host port is already allocated.
	ErrPortInUse = errors.New("port already in use")
)
