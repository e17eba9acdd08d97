package frontdoor

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
)

// serveUpgrade proxies a request that asks to switch protocols. After a 101 response the
// client and backend connections are joined byte for byte until either side closes, or
// until the drain of the backend times out and closes the backend side.
func (h *httpProxy) serveUpgrade(w http.ResponseWriter, r *http.Request, protocol string) {
	b, c, err := h.fd.connect(r.Context(), h.port, true)
	if b == nil {
		h.fd.writeNoBackend(w)
		return
	}
	defer b.release()
	if err != nil {
		h.fd.writeBadGateway(w, b, "dial", err)
		return
	}
	defer c.Close()

	stop := context.AfterFunc(r.Context(), c.abort)
	resp, err := h.roundTrip(r, c, protocol)
	if err != nil {
		stop()
		c.discard()
		h.fd.writeBadGateway(w, b, "upgrade request", err)
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		h.respond(w, r, b, c, resp, stop) // the connection is not reused
		return
	}
	if !stop() || c.finishBody() != nil {
		return
	}
	h.tunnel(w, b, c, resp)
}

// tunnel sends the 101 response to the client and joins the two connections.
func (h *httpProxy) tunnel(w http.ResponseWriter, b *backend, c *upstreamConn, resp *http.Response) {
	client, buffered, err := http.NewResponseController(w).Hijack()
	if err != nil {
		h.fd.writeBadGateway(w, b, "hijack client connection", err)
		return
	}
	h.server.tunnels.Add(1)
	defer h.server.tunnels.Done()
	defer client.Close()

	if err := writeSwitchingProtocols(buffered.Writer, resp); err != nil {
		return
	}
	join(client, buffered.Reader, c.Conn, c.br)
}

// writeSwitchingProtocols writes the 101 response head with its end-to-end headers plus
// Connection and Upgrade.
func writeSwitchingProtocols(bw *bufio.Writer, resp *http.Response) error {
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	skip := connectionTokens(resp.Header)
	for name, values := range resp.Header {
		if isHopByHop(name) || contains(skip, name) {
			continue
		}
		for _, v := range values {
			writeHeaderLine(bw, name, v)
		}
	}
	bw.WriteString("Connection: Upgrade\r\n")
	writeHeaderLine(bw, "Upgrade", resp.Header.Get("Upgrade"))
	bw.WriteString("\r\n")
	return bw.Flush()
}

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
	return errors.New("connection " + strconv.Quote(dst.RemoteAddr().String()) + " cannot half-close")
}
