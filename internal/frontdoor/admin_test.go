package frontdoor

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAdmin_SetMembersAndStatus(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	a := Backend{ID: "a", Name: "web-0", Slot: 0, Addr: "127.0.0.2"}
	b := Backend{ID: "b", Name: "web-1", Slot: 1, Addr: "127.0.0.3"}
	c := Backend{ID: "c", Name: "web-2", Slot: 2, Addr: "127.0.0.4"}

	result := setMembers(t, fd, 0, a, b)
	if !slices.Equal(result.Added, []string{"a", "b"}) || len(result.Removed) != 0 {
		t.Errorf("first SetMembers: %+v, want a and b added", result)
	}
	result = setMembers(t, fd, time.Second, b, c)
	if !slices.Equal(result.Added, []string{"c"}) {
		t.Errorf("second SetMembers added %v, want [c]", result.Added)
	}
	if len(result.Removed) != 1 || result.Removed[0].Backend != a || result.Removed[0].InFlight != 0 {
		t.Errorf("second SetMembers removed %+v, want a with 0 in flight", result.Removed)
	}

	report := status(t, fd)
	if report.Mode != ModeHTTP || report.Service != "web" || !slices.Equal(report.Ports, []int{fd.port}) {
		t.Errorf("status mode %q service %q ports %v", report.Mode, report.Service, report.Ports)
	}
	var members []Backend
	for _, s := range report.Backends {
		members = append(members, s.Backend)
	}
	if !slices.Equal(members, []Backend{b, c}) {
		t.Errorf("status backends %+v, want b and c", members)
	}

	info, err := os.Stat(fd.socket)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("admin socket mode %o, want 600", perm)
	}
}

func TestAdmin_RejectsInvalidMembership(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	cases := []struct {
		name string
		m    Membership
		want string
	}{
		{"missing id", Membership{Backends: []Backend{{Addr: "10.0.0.1"}}}, "missing id"},
		{"duplicate id", Membership{Backends: []Backend{{ID: "a", Addr: "h1"}, {ID: "a", Addr: "h2"}}}, "listed twice"},
		{"missing addr", Membership{Backends: []Backend{{ID: "a"}}}, "missing addr"},
		{"addr with port", Membership{Backends: []Backend{{ID: "a", Addr: "h1:8080"}}}, "without a port"},
		{"negative drain", Membership{DrainTimeout: -time.Second}, "invalid drain timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SetMembers(t.Context(), fd.socket, tc.m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("SetMembers error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if n := len(status(t, fd).Backends); n != 0 {
		t.Errorf("%d backends after rejected updates, want 0", n)
	}
}

func TestAdmin_MissingSocketNamesPath(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "none.sock")
	_, err := Status(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Status error %v, want one naming %s", err, path)
	}
}

func TestAdmin_ReplacesStaleSocket(t *testing.T) {
	t.Parallel()
	path := socketPath(t)
	ln, err := listenAdmin(path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	ln.Close() // leaves the socket file behind, as a killed front door does

	ln, err = listenAdmin(path)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	defer ln.Close()
	if _, err := listenAdmin(path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second listen on a live socket: %v, want an in-use error", err)
	}
}

func TestMembership_JSONRoundTrip(t *testing.T) {
	t.Parallel()
	in := Membership{Backends: []Backend{{ID: "a", Name: "web-0", Slot: 0, Addr: "10.1.0.2"}}, DrainTimeout: 1500 * time.Millisecond}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"drain_timeout":"1.5s"`) {
		t.Errorf("JSON %s does not carry drain_timeout as a duration string", data)
	}
	var out Membership
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if out.DrainTimeout != in.DrainTimeout || !slices.Equal(out.Backends, in.Backends) {
		t.Errorf("round trip gave %+v, want %+v", out, in)
	}
	if err := json.Unmarshal([]byte(`{"backends":[],"drain_timeout":"soon"}`), &out); err == nil {
		t.Error("an invalid drain_timeout was accepted")
	}
}

func TestConfig_Validation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown mode", Config{Mode: "udp", Ports: []int{80}}, `invalid mode "udp"`},
		{"no port", Config{Mode: ModeHTTP}, "no port"},
		{"port out of range", Config{Mode: ModeTCP, Ports: []int{70000}}, "invalid port 70000"},
		{"repeated port", Config{Mode: ModeTCP, Ports: []int{80, 80}}, "port 80 is listed twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Serve(t.Context(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Serve error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
