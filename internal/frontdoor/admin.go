package frontdoor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Admin protocol paths, served over the admin unix socket.
const (
	membersPath = "/v1/members" // PUT a Membership, get a DrainResult
	statusPath  = "/v1/status"  // GET a StatusReport
)

// maxAdminBody caps the size of an admin request body.
const maxAdminBody = 1 << 20

// SetMembers replaces the membership of the front door listening on the admin socket
// (DefaultAdminSocket when empty). It returns once new requests go only to m.Backends and
// the requests and connections in flight on removed backends finished or m.DrainTimeout
// passed. The result lists, per removed backend, how many were still in flight then. An
// invalid m is rejected before anything changes. When ctx ends first, SetMembers returns
// ctx's error but the front door still finishes the swap and the drain.
func SetMembers(ctx context.Context, socket string, m Membership) (DrainResult, error) {
	if err := m.Validate(); err != nil {
		return DrainResult{}, fmt.Errorf("invalid membership: %w", err)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return DrainResult{}, fmt.Errorf("encode membership: %w", err)
	}
	var result DrainResult
	if err := callAdmin(ctx, socket, http.MethodPut, membersPath, body, &result); err != nil {
		return DrainResult{}, err
	}
	return result, nil
}

// Status returns a snapshot of the front door listening on the admin socket
// (DefaultAdminSocket when empty): its backends, the requests in flight on each, and
// totals since start.
func Status(ctx context.Context, socket string) (StatusReport, error) {
	var report StatusReport
	if err := callAdmin(ctx, socket, http.MethodGet, statusPath, nil, &report); err != nil {
		return StatusReport{}, err
	}
	return report, nil
}

// callAdmin sends one admin request and decodes the JSON response into out.
func callAdmin(ctx context.Context, socket, method, path string, body []byte, out any) error {
	socket = orDefault(socket, DefaultAdminSocket)
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}
	defer client.CloseIdleConnections()

	req, err := http.NewRequestWithContext(ctx, method, "http://frontdoor"+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build admin request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("front door admin socket %s: %w (is `clusterctl frontdoor serve` running in this container?)", socket, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return adminError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode front door response to %s %s: %w", method, path, err)
	}
	return nil
}

func adminError(resp *http.Response) error {
	var body struct {
		Error string `json:"error"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxAdminBody))
	if json.Unmarshal(data, &body) != nil || body.Error == "" {
		body.Error = string(bytes.TrimSpace(data))
	}
	return fmt.Errorf("front door rejected the request (%s): %s", resp.Status, body.Error)
}

// listenAdmin listens on the admin unix socket with mode 0600. It creates the socket's
// directory with mode 0700 when missing, and replaces a socket file that no server
// listens on anymore.
func listenAdmin(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create admin socket directory: %w", err)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on admin socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("set mode of admin socket %s: %w", path, err)
	}
	return ln, nil
}

// removeStaleSocket removes a socket file left by a front door that is gone.
func removeStaleSocket(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check admin socket %s: %w", path, err)
	}
	if info.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("admin socket path %s exists and is not a socket: remove it or choose another path", path)
	}
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		return fmt.Errorf("admin socket %s is in use by another front door: stop it or choose another path", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale admin socket %s: %w", path, err)
	}
	return nil
}

func (fd *frontDoor) newAdminServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT "+membersPath, fd.handleMembers)
	mux.HandleFunc("GET "+statusPath, fd.handleStatus)
	return &http.Server{Handler: mux, ReadHeaderTimeout: clientTimeout}
}

func serveAdmin(srv *http.Server, ln net.Listener) error {
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve admin socket: %w", err)
}

func (fd *frontDoor) handleMembers(w http.ResponseWriter, r *http.Request) {
	var m Membership
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody)).Decode(&m); err != nil {
		writeAdminError(w, fmt.Errorf("invalid membership JSON: %w", err))
		return
	}
	if err := m.Validate(); err != nil {
		writeAdminError(w, fmt.Errorf("invalid membership: %w", err))
		return
	}
	writeJSON(w, fd.setMembers(m))
}

func (fd *frontDoor) handleStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, fd.status())
}

// setMembers swaps the membership, then drains the removed backends in parallel.
func (fd *frontDoor) setMembers(m Membership) DrainResult {
	timeout := orDefault(m.DrainTimeout, DefaultDrainTimeout)
	added, removed := fd.members.update(m.Backends)
	result := DrainResult{Added: backendIDs(added), Removed: make([]BackendDrain, len(removed))}
	fd.log.Info("membership changed", "service", fd.cfg.Service, "backends", len(m.Backends),
		"added", result.Added, "removed", backendIDs(removed), "drain_timeout", timeout)

	var wg sync.WaitGroup
	for i, b := range removed {
		wg.Go(func() {
			result.Removed[i] = b.drain(timeout)
			fd.members.drained(b)
			fd.logDrain(result.Removed[i])
		})
	}
	wg.Wait()
	return result
}

func (fd *frontDoor) logDrain(d BackendDrain) {
	attrs := []any{"service", fd.cfg.Service, "id", d.ID, "name", d.Name, "slot", d.Slot,
		"elapsed", d.Elapsed, "in_flight_closed", d.InFlight}
	if d.InFlight > 0 {
		fd.log.Warn("backend drain timed out, closed in-flight requests", attrs...)
		return
	}
	fd.log.Info("backend drained", attrs...)
}

func (fd *frontDoor) status() StatusReport {
	current, draining := fd.members.all()
	report := StatusReport{
		Service:   fd.cfg.Service,
		Mode:      fd.cfg.Mode,
		Ports:     fd.cfg.Ports,
		StartedAt: fd.started,
		Backends:  make([]BackendStatus, 0, len(current)+len(draining)),
		Requests:  fd.requests.Load(),
		Failures:  fd.failures.Load(),
		NoBackend: fd.noBackend.Load(),
	}
	for _, b := range current {
		report.Backends = append(report.Backends, b.status(false))
	}
	for _, b := range draining {
		report.Backends = append(report.Backends, b.status(true))
	}
	for _, b := range report.Backends {
		report.InFlight += b.InFlight
	}
	return report
}

func backendIDs(backends []*backend) []string {
	ids := make([]string, 0, len(backends))
	for _, b := range backends {
		ids = append(ids, b.spec.ID)
	}
	return ids
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to tell it
}

func writeAdminError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
