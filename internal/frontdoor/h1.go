package frontdoor

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
)

// The front door parses HTTP/1.1 itself, without net/http, because per-request allocations
// and goroutines of net/http cost more CPU than the proxying does. A head is parsed in
// place from the bufio buffer of its connection: its slices stay valid until the next read
// from that buffer.

// Limits of a request or response head. The head must fit in the connection's read buffer.
const (
	maxHeadBytes  = 16 << 10
	maxFields     = 256
	maxConnTokens = 16
)

var (
	errHeadTooLarge = errors.New("head larger than 16 KiB")
	errMalformed    = errors.New("malformed HTTP/1.x head")
)

// fieldKind classifies the header fields the front door treats specially.
type fieldKind uint8

const (
	kindOther fieldKind = iota
	kindHost
	kindContentLength
	kindTransferEncoding
	kindConnection
	kindUpgrade
	kindExpect
	kindTrailer
	kindXForwardedFor
	kindXForwardedProto
	kindXForwardedHost
	kindIdempotencyKey
	kindHopByHop // Keep-Alive, Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, TE
)

type field struct {
	name, value []byte
	kind        fieldKind
}

// head is a parsed request or response head.
type head struct {
	fields     []field
	connTokens [][]byte // names listed in Connection besides close, keep-alive and upgrade

	// request line; method and target are invalid once the body is read
	method, target []byte
	isHead         bool // the method is HEAD
	idempotentVerb bool // GET, HEAD, OPTIONS or TRACE
	// response line
	status int
	reason []byte
	minor  byte // the x of HTTP/1.x

	host          []byte
	hosts         int
	contentLength int64 // -1 when absent
	hasTE         bool
	chunked       bool // Transfer-Encoding ends with chunked
	otherCoding   bool // Transfer-Encoding has a coding besides chunked
	connClose     bool
	connKeepAlive bool
	connUpgrade   bool
	upgrade       []byte
	expect        []byte
	idempotent    bool // has an Idempotency-Key field
}

func (h *head) reset() {
	*h = head{fields: h.fields[:0], connTokens: h.connTokens[:0], contentLength: -1}
}

// peekHead returns the head at the start of br's buffer, up to and including the empty
// line, without consuming it. Empty lines before a request line are skipped, as RFC 9112
// section 2.2 allows.
func peekHead(br *bufio.Reader, skipEmptyLines bool) ([]byte, error) {
	for skipEmptyLines {
		b, err := br.Peek(1)
		if err != nil {
			return nil, err
		}
		if b[0] != '\r' && b[0] != '\n' {
			break
		}
		br.Discard(1)
	}
	for {
		buf, _ := br.Peek(br.Buffered())
		if end := headEnd(buf); end >= 0 {
			return buf[:end], nil
		}
		if br.Buffered() >= br.Size() {
			return nil, errHeadTooLarge
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return nil, err
		}
	}
}

// headEnd returns the length of the head in b, through the empty line that ends it, or -1.
func headEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
}

// cutLine splits the first line off b, without its line ending.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// parseRequest parses a request head. On error it returns the status code to respond with.
func (h *head) parseRequest(raw []byte) (int, error) {
	h.reset()
	line, rest := cutLine(raw)
	if status, err := h.parseRequestLine(line); err != nil {
		return status, err
	}
	if err := h.parseFields(rest); err != nil {
		return http.StatusBadRequest, err
	}
	return 0, nil
}

func (h *head) parseRequestLine(line []byte) (int, error) {
	method, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok || !isToken(method) {
		return http.StatusBadRequest, errMalformed
	}
	target, version, ok := bytes.Cut(rest, []byte{' '})
	if !ok || len(target) == 0 || !isTarget(target) {
		return http.StatusBadRequest, errMalformed
	}
	h.method, h.target = method, target
	switch string(method) {
	case http.MethodHead:
		h.isHead, h.idempotentVerb = true, true
	case http.MethodGet, http.MethodOptions, http.MethodTrace:
		h.idempotentVerb = true
	}
	switch string(version) {
	case "HTTP/1.1":
		h.minor = 1
	case "HTTP/1.0":
		h.minor = 0
	default:
		if bytes.HasPrefix(version, []byte("HTTP/")) {
			return http.StatusHTTPVersionNotSupported, errors.New("unsupported HTTP version")
		}
		return http.StatusBadRequest, errMalformed
	}
	return 0, nil
}

// parseResponse parses a response head.
func (h *head) parseResponse(raw []byte) error {
	h.reset()
	line, rest := cutLine(raw)
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return errMalformed
	}
	h.minor = line[7] - '0'
	code := line[9:12]
	if h.minor > 1 || !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) {
		return errMalformed
	}
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if len(line) > 12 {
		if line[12] != ' ' || !isFieldValue(line[13:]) {
			return errMalformed
		}
		h.reason = line[13:]
	}
	return h.parseFields(rest)
}

// parseTrailer parses the trailer section of a chunked body.
func (h *head) parseTrailer(raw []byte) error {
	h.reset()
	return h.parseFields(raw)
}

// parseFields parses header field lines up to the empty line.
func (h *head) parseFields(b []byte) error {
	for {
		var line []byte
		line, b = cutLine(b)
		if len(line) == 0 {
			return nil
		}
		if len(h.fields) == maxFields {
			return errors.New("too many header fields")
		}
		f, err := parseField(line)
		if err != nil {
			return err
		}
		if err := h.note(f); err != nil {
			return err
		}
		h.fields = append(h.fields, f)
	}
}

// parseField parses one "name: value" line. It rejects whitespace before the colon and
// obsolete line folding (RFC 9112 section 5), which request smuggling relies on.
func parseField(line []byte) (field, error) {
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok || !isToken(name) {
		return field{}, errors.New("invalid header field name")
	}
	value = trimOWS(value)
	if !isFieldValue(value) {
		return field{}, errors.New("invalid header field value")
	}
	return field{name: name, value: value, kind: classify(name)}, nil
}

// note records what a field means for framing, routing and connection handling.
func (h *head) note(f field) error {
	switch f.kind {
	case kindHost:
		h.hosts++
		h.host = f.value
	case kindContentLength:
		return h.noteContentLength(f.value)
	case kindTransferEncoding:
		h.noteTransferEncoding(f.value)
	case kindConnection:
		return h.noteConnection(f.value)
	case kindUpgrade:
		h.upgrade = f.value
	case kindExpect:
		h.expect = f.value
	case kindIdempotencyKey:
		h.idempotent = true
	}
	return nil
}

// noteContentLength accepts repeated Content-Length values only when they are equal.
func (h *head) noteContentLength(value []byte) error {
	for part := range bytes.SplitSeq(value, []byte{','}) {
		n, ok := parseLength(trimOWS(part))
		if !ok || (h.contentLength >= 0 && h.contentLength != n) {
			return errors.New("invalid Content-Length")
		}
		h.contentLength = n
	}
	return nil
}

func (h *head) noteTransferEncoding(value []byte) {
	h.hasTE = true
	for part := range bytes.SplitSeq(value, []byte{','}) {
		part = trimOWS(part)
		if len(part) == 0 {
			continue
		}
		if h.chunked { // chunked must be the last coding
			h.otherCoding = true
		}
		if equalFold(part, "chunked") {
			h.chunked = true
		} else {
			h.otherCoding = true
		}
	}
}

func (h *head) noteConnection(value []byte) error {
	for token := range bytes.SplitSeq(value, []byte{','}) {
		token = trimOWS(token)
		switch {
		case len(token) == 0:
		case equalFold(token, "close"):
			h.connClose = true
		case equalFold(token, "keep-alive"):
			h.connKeepAlive = true
		case equalFold(token, "upgrade"):
			h.connUpgrade = true
		case len(h.connTokens) == maxConnTokens:
			return errors.New("too many Connection options")
		default:
			h.connTokens = append(h.connTokens, token)
		}
	}
	return nil
}

// hopByHop reports whether f applies to one connection only and is not forwarded: the
// fields of RFC 9110 section 7.6.1 and those named in Connection.
func (h *head) hopByHop(f field) bool {
	switch f.kind {
	case kindConnection, kindUpgrade, kindTransferEncoding, kindHopByHop:
		return true
	}
	for _, name := range h.connTokens {
		if bytes.EqualFold(name, f.name) {
			return true
		}
	}
	return false
}

// classify returns the kind of a field name, compared without regard to case.
func classify(name []byte) fieldKind {
	switch len(name) {
	case 2:
		return kindIf(name, "te", kindHopByHop)
	case 4:
		return kindIf(name, "host", kindHost)
	case 6:
		return kindIf(name, "expect", kindExpect)
	case 7:
		if k := kindIf(name, "upgrade", kindUpgrade); k != kindOther {
			return k
		}
		return kindIf(name, "trailer", kindTrailer)
	case 10:
		if k := kindIf(name, "connection", kindConnection); k != kindOther {
			return k
		}
		return kindIf(name, "keep-alive", kindHopByHop)
	case 14:
		return kindIf(name, "content-length", kindContentLength)
	case 15:
		if k := kindIf(name, "x-forwarded-for", kindXForwardedFor); k != kindOther {
			return k
		}
		return kindIf(name, "idempotency-key", kindIdempotencyKey)
	case 16:
		if k := kindIf(name, "x-forwarded-host", kindXForwardedHost); k != kindOther {
			return k
		}
		return kindIf(name, "proxy-connection", kindHopByHop)
	case 17:
		if k := kindIf(name, "transfer-encoding", kindTransferEncoding); k != kindOther {
			return k
		}
		return kindIf(name, "x-forwarded-proto", kindXForwardedProto)
	case 18:
		return kindIf(name, "proxy-authenticate", kindHopByHop)
	case 19:
		return kindIf(name, "proxy-authorization", kindHopByHop)
	}
	return kindOther
}

func kindIf(name []byte, lower string, kind fieldKind) fieldKind {
	if equalFold(name, lower) {
		return kind
	}
	return kindOther
}

// equalFold compares b with the lowercase ASCII string lower, ignoring the case of b.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseLength parses a non-negative decimal Content-Length.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// tokenChars marks the tchar bytes of RFC 9110 section 5.6.2.
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return true
}

// isFieldValue rejects control characters other than horizontal tab.
func isFieldValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// isTarget rejects control characters, spaces and non-ASCII bytes in a request target.
func isTarget(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}
