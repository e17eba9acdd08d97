package frontdoor

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// maxAcceptDelay caps the back-off after a failed accept, as net/http does.
const maxAcceptDelay = time.Second

// tcpServer serves TCP mode: it joins each client connection to a backend connection.
type tcpServer struct {
	fd        *frontDoor
	listeners []net.Listener
	conns     sync.WaitGroup
}

func newTCPServer(fd *frontDoor, listeners []net.Listener) *tcpServer {
	return &tcpServer{fd: fd, listeners: listeners}
}

func (s *tcpServer) start(failed chan<- error) {
	for i, ln := range s.listeners {
		go func() { failed <- s.accept(ln, i) }()
	}
}

// accept serves one listener until it is closed.
func (s *tcpServer) accept(ln net.Listener, port int) error {
	var delay time.Duration
	for {
		client, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			delay = min(max(2*delay, 5*time.Millisecond), maxAcceptDelay)
			s.fd.log.Warn("accept failed", "service", s.fd.cfg.Service, "addr", ln.Addr().String(),
				"error", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.conns.Add(1)
		go s.handle(client, port)
	}
}

// handle joins client to a backend, or closes it when there is no backend.
func (s *tcpServer) handle(client net.Conn, port int) {
	defer s.conns.Done()
	defer client.Close()
	s.fd.requests.Add(1)

	b, c, err := s.fd.connect(context.Background(), port, true)
	if b == nil {
		s.fd.noBackendFailed()
		return
	}
	defer b.release()
	if err != nil {
		s.fd.backendFailed(b, "dial", err)
		return
	}
	defer c.Close()
	pipe(client, c.Conn)
}

func (s *tcpServer) shutdown(ctx context.Context) bool {
	closeAll(s.listeners)
	return waitOrDone(ctx, &s.conns)
}
