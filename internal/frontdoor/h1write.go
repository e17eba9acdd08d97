package frontdoor

import (
	"bufio"
	"net/http"
	"strconv"
)

// bodyFraming is the delimiting of a response body.
type bodyFraming uint8

const (
	bodyNone       bodyFraming = iota // HEAD, 1xx, 204 and 304 responses
	bodyLength                        // Content-Length
	bodyChunked                       // Transfer-Encoding: chunked
	bodyUntilClose                    // read until the backend closes the connection
)

// responseFraming returns how the body of a response is delimited (RFC 9112 section 6.3),
// and its length for bodyLength. toHead is set for the response to a HEAD request.
func (h *head) responseFraming(toHead bool) (bodyFraming, int64) {
	switch {
	case toHead, h.status < 200, h.status == http.StatusNoContent,
		h.status == http.StatusNotModified:
		return bodyNone, 0
	case h.hasTE && h.chunked && !h.otherCoding:
		return bodyChunked, 0
	case h.hasTE:
		return bodyUntilClose, 0
	case h.contentLength >= 0:
		return bodyLength, h.contentLength
	}
	return bodyUntilClose, 0
}

// reusable reports whether the backend connection may serve another request after this
// response was read completely.
func (h *head) reusable(framing bodyFraming) bool {
	if framing == bodyUntilClose || h.connClose || (h.hasTE && h.contentLength >= 0) {
		return false
	}
	return h.minor == 1 || h.connKeepAlive
}

// writeRequestHead writes the head of req as it goes to the backend: origin-form target,
// end-to-end fields, forwarding fields, and the framing of the body. hostFallback is the
// Host of a request that has none.
func writeRequestHead(bw *bufio.Writer, req *head, clientIP, hostFallback string, upgrade bool) {
	bw.Write(req.method)
	bw.WriteByte(' ')
	if len(req.target) == 0 || req.target[0] == '?' {
		bw.WriteByte('/') // absolute form without a path
	}
	bw.Write(req.target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if len(req.host) > 0 {
		bw.Write(req.host)
	} else {
		bw.WriteString(hostFallback)
	}
	bw.WriteString("\r\n")

	for _, f := range req.fields {
		switch f.kind {
		case kindHost, kindContentLength, kindExpect, kindXForwardedFor, kindXForwardedProto, kindXForwardedHost:
			continue
		}
		if !req.hopByHop(f) {
			writeField(bw, f.name, f.value)
		}
	}
	writeForwarded(bw, req, clientIP)
	if upgrade {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
		bw.Write(req.upgrade)
		bw.WriteString("\r\n")
	}
	writeRequestFraming(bw, req)
	bw.WriteString("\r\n")
}

// writeForwarded appends the client IP to X-Forwarded-For and sets X-Forwarded-Proto and
// X-Forwarded-Host.
func writeForwarded(bw *bufio.Writer, req *head, clientIP string) {
	bw.WriteString("X-Forwarded-For: ")
	for _, f := range req.fields {
		if f.kind == kindXForwardedFor {
			bw.Write(f.value)
			bw.WriteString(", ")
		}
	}
	bw.WriteString(clientIP)
	bw.WriteString("\r\nX-Forwarded-Proto: http\r\n")
	if len(req.host) > 0 {
		bw.WriteString("X-Forwarded-Host: ")
		bw.Write(req.host)
		bw.WriteString("\r\n")
	}
}

func writeRequestFraming(bw *bufio.Writer, req *head) {
	switch {
	case req.chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case req.contentLength >= 0:
		writeContentLength(bw, req.contentLength)
	case string(req.method) == http.MethodPost || string(req.method) == http.MethodPut ||
		string(req.method) == http.MethodPatch:
		// Some servers respond 411 Length Required to a POST without Content-Length.
		bw.WriteString("Content-Length: 0\r\n")
	}
}

// writeResponseHead writes the response head as it goes to the client.
func (c *clientConn) writeResponseHead(framing bodyFraming, length int64, chunked, keep bool) {
	c.moveWriteDeadline()
	bw := c.bw
	writeStatusLine(bw, c.resp.status, c.resp.reason)
	for _, f := range c.resp.fields {
		switch {
		case c.resp.hopByHop(f),
			f.kind == kindContentLength && framing != bodyNone,
			f.kind == kindTrailer && !chunked:
			continue
		}
		writeField(bw, f.name, f.value)
	}
	switch {
	case framing == bodyLength:
		writeContentLength(bw, length)
	case chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case !keep:
		bw.WriteString("Connection: close\r\n")
	case c.req.minor == 0:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
}

// writeInterim forwards an interim response such as 103 Early Hints.
func (c *clientConn) writeInterim() {
	c.moveWriteDeadline()
	writeStatusLine(c.bw, c.resp.status, c.resp.reason)
	for _, f := range c.resp.fields {
		if !c.resp.hopByHop(f) {
			writeField(c.bw, f.name, f.value)
		}
	}
	c.bw.WriteString("\r\n")
	c.flush()
}

// writeSwitchingProtocols writes a 101 response with its end-to-end fields plus
// Connection and Upgrade.
func (c *clientConn) writeSwitchingProtocols() {
	c.moveWriteDeadline()
	writeStatusLine(c.bw, http.StatusSwitchingProtocols, c.resp.reason)
	for _, f := range c.resp.fields {
		if !c.resp.hopByHop(f) {
			writeField(c.bw, f.name, f.value)
		}
	}
	c.bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
	c.bw.Write(c.resp.upgrade)
	c.bw.WriteString("\r\n\r\n")
}

func writeStatusLine(bw *bufio.Writer, status int, reason []byte) {
	bw.WriteString("HTTP/1.1 ")
	bw.WriteByte(byte('0' + status/100))
	bw.WriteByte(byte('0' + status/10%10))
	bw.WriteByte(byte('0' + status%10))
	bw.WriteByte(' ')
	if len(reason) > 0 {
		bw.Write(reason)
	} else {
		bw.WriteString(http.StatusText(status))
	}
	bw.WriteString("\r\n")
}

func writeField(bw *bufio.Writer, name, value []byte) {
	bw.Write(name)
	bw.WriteString(": ")
	bw.Write(value)
	bw.WriteString("\r\n")
}

func writeContentLength(bw *bufio.Writer, n int64) {
	bw.WriteString("Content-Length: ")
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), n, 10)) // appends in place, no allocation
	bw.WriteString("\r\n")
}
