package frontdoor

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startTCPBackend serves, on backend address i, a protocol that sends the backend name
// and a newline, then echoes what it reads.
func startTCPBackend(t testing.TB, fd *testFrontDoor, i int) Backend {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(backendAddr(i), strconv.Itoa(fd.port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	name := "tcp-" + strconv.Itoa(i)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				io.WriteString(conn, name+"\n")
				io.Copy(conn, conn)
			}()
		}
	}()
	return Backend{ID: "id-" + strconv.Itoa(i), Name: name, Slot: i, Addr: backendAddr(i)}
}

// dialTCP connects to the front door and returns the connection and the backend name.
func dialTCP(t testing.TB, fd *testFrontDoor) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(fd.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	name, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("read backend name: %v", err)
	}
	return conn, br, strings.TrimSpace(name)
}

func echoLine(conn net.Conn, br *bufio.Reader, line string) error {
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return err
	}
	got, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func TestTCP_BalancesPerConnection(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeTCP)
	setMembers(t, fd, 0, startTCPBackend(t, fd, 0), startTCPBackend(t, fd, 1), startTCPBackend(t, fd, 2))

	seen := map[string]int{}
	for range 9 {
		conn, br, name := dialTCP(t, fd)
		if err := echoLine(conn, br, "hello"); err != nil {
			t.Fatalf("echo through %s: %v", name, err)
		}
		seen[name]++
	}
	for i := range 3 {
		if name := "tcp-" + strconv.Itoa(i); seen[name] == 0 {
			t.Errorf("backend %s got no connection (got %v)", name, seen)
		}
	}
}

func TestTCP_DrainKeepsConnectionsUntilTimeout(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeTCP)
	first := startTCPBackend(t, fd, 0)
	second := startTCPBackend(t, fd, 1)
	setMembers(t, fd, 0, first)
	conn, br, name := dialTCP(t, fd)
	if name != first.Name {
		t.Fatalf("connected to %s, want %s", name, first.Name)
	}

	removedAt := time.Now()
	drained := make(chan DrainResult, 1)
	go func() { drained <- setMembers(t, fd, 500*time.Millisecond, second) }()

	waitFor(t, "second backend as member", func() bool {
		for _, b := range status(t, fd).Backends {
			if b.ID == second.ID && !b.Draining {
				return true
			}
		}
		return false
	})
	if _, _, newName := dialTCP(t, fd); newName != second.Name {
		t.Errorf("new connection went to %s during the drain, want %s", newName, second.Name)
	}
	if err := echoLine(conn, br, "still here"); err != nil && time.Since(removedAt) < 400*time.Millisecond {
		t.Errorf("connection to the draining backend failed before the drain timeout: %v", err)
	}

	result := <-drained
	if len(result.Removed) != 1 || result.Removed[0].InFlight != 1 {
		t.Errorf("drain result %+v, want %s removed with 1 connection in flight", result.Removed, first.ID)
	}
	if _, err := br.ReadString('\n'); err == nil {
		t.Error("connection to the removed backend still open after the drain timeout")
	}
}

func TestTCP_DrainEndsWhenConnectionsClose(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeTCP)
	first := startTCPBackend(t, fd, 0)
	setMembers(t, fd, 0, first)
	conn, br, _ := dialTCP(t, fd)

	drained := make(chan DrainResult, 1)
	go func() { drained <- setMembers(t, fd, 10*time.Second, startTCPBackend(t, fd, 1)) }()
	waitFor(t, "drain started", func() bool {
		for _, b := range status(t, fd).Backends {
			if b.ID == first.ID && b.Draining {
				return true
			}
		}
		return false
	})
	if err := echoLine(conn, br, "before close"); err != nil {
		t.Fatalf("echo during drain: %v", err)
	}
	conn.Close()

	select {
	case result := <-drained:
		if len(result.Removed) != 1 || result.Removed[0].InFlight != 0 {
			t.Errorf("drain result %+v, want one removed backend with 0 in flight", result.Removed)
		}
	case <-time.After(5 * time.Second):
		t.Error("drain did not end after the last connection closed")
	}
}

func TestTCP_NoBackendClosesConnection(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeTCP)
	conn, err := net.Dial("tcp", strings.TrimPrefix(fd.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("read %d bytes, %v; want EOF", n, err)
	}
}
