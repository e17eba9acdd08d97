package frontdoor

import (
	"fmt"
	"io"
	"net"
)

// join copies both ways between a client and a backend connection, each read through its
// buffered reader, until either direction ends, then closes both.
func join(client net.Conn, clientReader io.Reader, backend net.Conn, backendReader io.Reader) {
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(backend, clientReader)
		done <- struct{}{}
	}()
	go func() {
		io.Copy(client, backendReader)
		done <- struct{}{}
	}()
	<-done
	client.Close()
	backend.Close()
	<-done
}

// pipe copies both ways between a TCP client and a backend. When one side finishes
// sending, the other side's write half is closed, so half-closed protocols work. An error
// in either direction closes both connections.
func pipe(client, backend net.Conn) {
	errs := make(chan error, 1)
	go func() { errs <- copyHalf(backend, client) }()
	err := copyHalf(client, backend)
	if err != nil {
		client.Close()
		backend.Close()
	}
	if err := <-errs; err != nil {
		client.Close()
		backend.Close()
	}
}

// copyHalf copies src to dst, then closes the write half of dst.
func copyHalf(dst, src net.Conn) error {
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	if tcp, ok := dst.(interface{ CloseWrite() error }); ok {
		return tcp.CloseWrite()
	}
	return fmt.Errorf("connection to %s cannot half-close", dst.RemoteAddr())
}
