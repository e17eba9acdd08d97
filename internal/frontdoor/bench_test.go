package frontdoor

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// startRawBackend serves a fixed 64-byte response to every request on backend address i,
// with as little work as possible, so that benchmarks measure the front door.
func startRawBackend(tb testing.TB, fd *testFrontDoor, i int) Backend {
	tb.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(backendAddr(i), strconv.Itoa(fd.port)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	response := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\n" + strings.Repeat("x", 64))
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveFixed(conn, response)
		}
	}()
	return Backend{ID: "raw-" + strconv.Itoa(i), Addr: backendAddr(i)}
}

// serveFixed writes response after each request head (requests have no body) with response.
func serveFixed(conn net.Conn, response []byte) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for {
		raw, err := peekHead(br, true)
		if err != nil {
			return
		}
		br.Discard(len(raw))
		if _, err := conn.Write(response); err != nil {
			return
		}
	}
}

// BenchmarkHTTP_KeepAliveGET measures one GET through the front door over keep-alive
// connections on both sides; allocs/op counts the whole process, backend included.
func BenchmarkHTTP_KeepAliveGET(b *testing.B) {
	fd := startFrontDoor(b, ModeHTTP)
	setMembers(b, fd, 0, startRawBackend(b, fd, 0), startRawBackend(b, fd, 1))
	request := []byte("GET /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n")

	b.ReportAllocs()
	b.ResetTimer()
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(fd.url, "http://"))
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		for pb.Next() {
			conn.Write(request)
			resp, err := http.ReadResponse(br, nil)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				mu.Lock()
				b.Errorf("response: %v", err)
				mu.Unlock()
				return
			}
		}
	})
}
