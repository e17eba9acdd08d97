package frontdoor

import (
	"context"
	"net"
)

// tcpServer serves TCP mode: it joins each client connection to a backend connection.
type tcpServer struct {
	fd        *frontDoor
	listeners []net.Listener
	conns     connTracker[net.Conn]
}

func newTCPServer(fd *frontDoor, listeners []net.Listener) *tcpServer {
	return &tcpServer{fd: fd, listeners: listeners}
}

func (s *tcpServer) start(failed chan<- error) {
	for i, ln := range s.listeners {
		go func() {
			failed <- acceptLoop(s.fd, ln, func(conn net.Conn) {
				if !s.conns.add(conn) {
					conn.Close()
					return
				}
				go s.handle(conn, i)
			})
		}()
	}
}

// handle joins client to a backend, or closes it when there is no backend.
func (s *tcpServer) handle(client net.Conn, port int) {
	defer s.conns.done(client)
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

// shutdown stops accepting and waits for the connections until ctx is done. The caller
// then closes the backend connections, which ends the rest.
func (s *tcpServer) shutdown(ctx context.Context) bool {
	closeAll(s.listeners)
	s.conns.close()
	return s.conns.wait(ctx)
}
