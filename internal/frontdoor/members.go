package frontdoor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Backend is one ready instance of the service.
type Backend struct {
	ID   string `json:"id"`   // container ID; unique within a Membership
	Name string `json:"name"` // container name, for logs and status
	Slot int    `json:"slot"` // instance slot
	Addr string `json:"addr"` // IP address or host name, without a port
}

// Membership is the full set of backends a front door balances over.
type Membership struct {
	Backends []Backend
	// DrainTimeout bounds how long removed backends may finish in-flight requests and
	// connections before they are closed; zero means DefaultDrainTimeout. In JSON it is a
	// Go duration string such as "30s".
	DrainTimeout time.Duration
}

// Validate reports the first invalid field of m: an empty or repeated ID, an address that
// is empty or has a port, or a negative drain timeout.
func (m Membership) Validate() error {
	if m.DrainTimeout < 0 {
		return fmt.Errorf("invalid drain timeout %s: use 0 for the default or a positive duration", m.DrainTimeout)
	}
	seen := make(map[string]bool, len(m.Backends))
	for i, b := range m.Backends {
		if b.ID == "" {
			return fmt.Errorf("backend %d (%s): missing id: set the container ID", i, b.Name)
		}
		if seen[b.ID] {
			return fmt.Errorf("backend id %q is listed twice: list each container once", b.ID)
		}
		seen[b.ID] = true
		if err := validateAddr(b.Addr); err != nil {
			return fmt.Errorf("backend %q: %w", b.ID, err)
		}
	}
	return nil
}

func validateAddr(addr string) error {
	if addr == "" {
		return errors.New("missing addr: set the instance IP address or host name")
	}
	if _, err := netip.ParseAddr(addr); err == nil {
		return nil
	}
	if strings.ContainsAny(addr, ":/[] \t") {
		return fmt.Errorf("invalid addr %q: use an IP address or host name without a port", addr)
	}
	return nil
}

type membershipJSON struct {
	Backends     []Backend `json:"backends"`
	DrainTimeout string    `json:"drain_timeout,omitempty"`
}

// MarshalJSON encodes m with DrainTimeout as a Go duration string.
func (m Membership) MarshalJSON() ([]byte, error) {
	out := membershipJSON{Backends: m.Backends}
	if m.Backends == nil {
		out.Backends = []Backend{}
	}
	if m.DrainTimeout != 0 {
		out.DrainTimeout = m.DrainTimeout.String()
	}
	return json.Marshal(out)
}

// UnmarshalJSON decodes m, reading drain_timeout as a Go duration string such as "30s".
func (m *Membership) UnmarshalJSON(data []byte) error {
	var in membershipJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	m.Backends = in.Backends
	m.DrainTimeout = 0
	if in.DrainTimeout == "" {
		return nil
	}
	d, err := time.ParseDuration(in.DrainTimeout)
	if err != nil {
		return fmt.Errorf("invalid drain_timeout %q: use a duration such as \"30s\"", in.DrainTimeout)
	}
	m.DrainTimeout = d
	return nil
}

// DrainResult is the outcome of one membership change.
type DrainResult struct {
	Added   []string       `json:"added"`   // IDs of backends that were not members before
	Removed []BackendDrain `json:"removed"` // one entry per removed backend
}

// BackendDrain is the drain outcome of one removed backend.
type BackendDrain struct {
	Backend
	// InFlight is the number of requests and connections that were still in flight when
	// the drain timeout passed; they were closed. Zero means the backend drained in time.
	InFlight int `json:"in_flight"`
	// Elapsed is the time the drain took.
	Elapsed time.Duration `json:"-"`
}

type backendDrainJSON struct {
	Backend
	InFlight int    `json:"in_flight"`
	Elapsed  string `json:"elapsed"`
}

// MarshalJSON encodes d with Elapsed as a Go duration string.
func (d BackendDrain) MarshalJSON() ([]byte, error) {
	return json.Marshal(backendDrainJSON{d.Backend, d.InFlight, d.Elapsed.String()})
}

// UnmarshalJSON decodes d, reading elapsed as a Go duration string.
func (d *BackendDrain) UnmarshalJSON(data []byte) error {
	var in backendDrainJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	elapsed, err := time.ParseDuration(in.Elapsed)
	if err != nil {
		return fmt.Errorf("invalid elapsed %q: %w", in.Elapsed, err)
	}
	*d = BackendDrain{Backend: in.Backend, InFlight: in.InFlight, Elapsed: elapsed}
	return nil
}

// StatusReport is a snapshot of a running front door.
type StatusReport struct {
	Service   string          `json:"service,omitempty"`
	Mode      string          `json:"mode"`
	Ports     []int           `json:"ports"`
	StartedAt time.Time       `json:"started_at"`
	Backends  []BackendStatus `json:"backends"` // members first, then backends still draining
	// Requests counts HTTP requests, or TCP connections, since start.
	Requests uint64 `json:"requests"`
	// InFlight is the number of requests and connections in flight now.
	InFlight int `json:"in_flight"`
	// Failures counts requests that got 502 or were aborted, and TCP connections closed, because
	// of a backend error.
	Failures uint64 `json:"failures"`
	// NoBackend counts requests that got 503, and TCP connections closed, for lack of a
	// ready backend.
	NoBackend uint64 `json:"no_backend"`
}

// BackendStatus is the state of one backend in a StatusReport.
type BackendStatus struct {
	Backend
	Draining bool   `json:"draining"`  // removed, finishing in-flight work
	InFlight int    `json:"in_flight"` // requests and connections in flight now
	Requests uint64 `json:"requests"`  // requests or connections sent to it
	Failures uint64 `json:"failures"`  // dial, write or read errors
}
