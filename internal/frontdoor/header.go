package frontdoor

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
)

// isHopByHop reports whether a canonical header name belongs to one connection only
// (RFC 9110, section 7.6.1), so a proxy must not forward it.
func isHopByHop(name string) bool {
	switch name {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// isRewritten reports whether the front door writes a request header itself.
func isRewritten(name string) bool {
	switch name {
	case "Host", "Content-Length", "Expect", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host":
		return true
	}
	return false
}

// connectionTokens returns the canonical names of the headers listed in Connection, which
// are hop-by-hop too. It returns nil in the common case of no Connection header.
func connectionTokens(h http.Header) []string {
	values := h["Connection"]
	if len(values) == 0 {
		return nil
	}
	var names []string
	for _, v := range values {
		for token := range strings.SplitSeq(v, ",") {
			if token = strings.TrimSpace(token); token != "" {
				names = append(names, http.CanonicalHeaderKey(token))
			}
		}
	}
	return names
}

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// upgradeProtocol returns the Upgrade header of a request that asks to switch protocols,
// or "".
func upgradeProtocol(h http.Header) string {
	if len(h["Upgrade"]) == 0 || !hasToken(h["Connection"], "upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

// requestHead is what the front door sends to a backend besides the client's headers.
type requestHead struct {
	host     string // Host header
	clientIP string // appended to X-Forwarded-For
	upgrade  string // protocol to switch to, or ""
	chunked  bool   // body of unknown length, sent chunked
}

// writeRequestHead writes the request line and headers of r to bw.
func writeRequestHead(bw *bufio.Writer, r *http.Request, head requestHead) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(requestTarget(r))
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(head.host)
	bw.WriteString("\r\n")

	skip := connectionTokens(r.Header)
	for name, values := range r.Header {
		if isHopByHop(name) || isRewritten(name) || contains(skip, name) {
			continue
		}
		for _, v := range values {
			writeHeaderLine(bw, name, v)
		}
	}
	writeForwarded(bw, r, head)
	writeFraming(bw, r, head)
	bw.WriteString("\r\n")
}

func writeForwarded(bw *bufio.Writer, r *http.Request, head requestHead) {
	bw.WriteString("X-Forwarded-For: ")
	for _, v := range r.Header["X-Forwarded-For"] {
		bw.WriteString(v)
		bw.WriteString(", ")
	}
	bw.WriteString(head.clientIP)
	bw.WriteString("\r\nX-Forwarded-Proto: http\r\n")
	writeHeaderLine(bw, "X-Forwarded-Host", r.Host)
}

// writeFraming writes the upgrade and body framing headers.
func writeFraming(bw *bufio.Writer, r *http.Request, head requestHead) {
	if head.upgrade != "" {
		bw.WriteString("Connection: Upgrade\r\n")
		writeHeaderLine(bw, "Upgrade", head.upgrade)
	}
	switch {
	case head.chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(r.Trailer) > 0 {
			writeHeaderLine(bw, "Trailer", strings.Join(headerNames(r.Trailer), ", "))
		}
	case r.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(r.ContentLength, 10))
		bw.WriteString("\r\n")
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch:
		// Some servers answer 411 Length Required to a POST without Content-Length.
		bw.WriteString("Content-Length: 0\r\n")
	}
}

func writeHeaderLine(bw *bufio.Writer, name, value string) {
	bw.WriteString(name)
	bw.WriteString(": ")
	bw.WriteString(value)
	bw.WriteString("\r\n")
}

// requestTarget returns the origin-form target of r, also for a client that sent the
// absolute form.
func requestTarget(r *http.Request) string {
	if u := r.RequestURI; u == "*" || strings.HasPrefix(u, "/") {
		return u
	}
	return r.URL.RequestURI()
}

// clientIP returns the IP address part of r.RemoteAddr.
func clientIP(remoteAddr string) string {
	i := strings.LastIndexByte(remoteAddr, ':')
	if i < 0 {
		return remoteAddr
	}
	return strings.Trim(remoteAddr[:i], "[]")
}

// copyResponseHeader copies the end-to-end headers of src into dst.
func copyResponseHeader(dst, src http.Header) {
	skip := connectionTokens(src)
	for name, values := range src {
		if isHopByHop(name) || contains(skip, name) {
			continue
		}
		dst[name] = values
	}
	if _, ok := dst["Content-Type"]; !ok {
		// A nil value stops net/http from sniffing a Content-Type the backend did not send.
		dst["Content-Type"] = nil
	}
}

func headerNames(h http.Header) []string {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	return names
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
