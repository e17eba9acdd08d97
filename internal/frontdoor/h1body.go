package frontdoor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"
)

// bodyGrace is how long the request body writer may take to finish after the response
// did. A writer that needs longer is blocked on a body the backend does not read.
const bodyGrace = 100 * time.Millisecond

// bodyBufferSize is the size of the buffers that copy chunked and close-delimited bodies.
const bodyBufferSize = 32 << 10

var bodyBuffers = sync.Pool{New: func() any {
	b := make([]byte, bodyBufferSize)
	return &b
}}

// startBody sends the request body of c to the backend in the background, so that a
// backend that responds before it read the whole body does not block the front door.
func (up *upstreamConn) startBody(c *clientConn) {
	up.bodyPending = true
	go func() {
		err := c.copyRequestBody(up)
		if err != nil {
			up.Conn.Close() // a partial body leaves the connection out of sync
		}
		up.bodyErr <- err
	}()
}

// copyRequestBody copies the request body from the client to the backend. Before a read
// from the client that may block, it flushes what it has to the backend.
func (c *clientConn) copyRequestBody(up *upstreamConn) error {
	beforeBlock := func() error {
		c.moveReadDeadline()
		return up.bw.Flush()
	}
	if !c.req.chunked {
		readErr, writeErr := copyN(up.bw, c.br, c.req.contentLength, beforeBlock)
		return errors.Join(readErr, writeErr)
	}
	var trailer head
	readErr, writeErr := copyChunked(up.bw, c.br, true, &trailer, beforeBlock)
	if err := errors.Join(readErr, writeErr); err != nil {
		return fmt.Errorf("copy chunked request body: %w", err)
	}
	return up.bw.Flush()
}

// finishBody waits for the request body writer and returns its error. When the writer
// does not finish within bodyGrace after the response, the backend responded without
// reading the whole body: finishBody then stops the writer by failing its reads from the
// client and its writes to the backend, so neither connection can be reused.
func (up *upstreamConn) finishBody(c *clientConn) error {
	if !up.bodyPending {
		return nil
	}
	up.bodyPending = false
	select {
	case err := <-up.bodyErr:
		return err
	default:
	}
	timer := time.NewTimer(bodyGrace)
	defer timer.Stop()
	select {
	case err := <-up.bodyErr:
		return err
	case <-timer.C:
	}
	_ = c.conn.SetReadDeadline(time.Unix(1, 0)) // wakes the body copy; a closed conn needs no deadline
	_ = up.Conn.Close()
	<-up.bodyErr              //nolint:errcheck // the copy ends with the closed connection; its error is moot
	c.readMoved = time.Time{} // the next moveReadDeadline must not skip
	return errors.New("backend responded before it read the request body")
}

// discard closes up after a failed or incomplete exchange.
func (up *upstreamConn) discard(c *clientConn) {
	up.Close()
	_ = up.finishBody(c) // the connection is closed; the body's error adds nothing
}

// copyResponseBody copies the response body from the backend to the client, re-framed
// as chunked when chunked is set. It flushes to the client before a read from the backend
// that may block, so streamed responses such as server-sent events are not held back.
func (c *clientConn) copyResponseBody(up *upstreamConn, framing bodyFraming, length int64, chunked bool) (readErr, writeErr error) {
	switch framing {
	case bodyLength:
		return copyN(c.bw, up.br, length, c.flush)
	case bodyChunked:
		readErr, writeErr = copyChunked(c.bw, up.br, chunked, &c.trailer, c.flush)
	case bodyUntilClose:
		readErr, writeErr = copyStream(c.bw, up.br, up.br, chunked, c.flush)
		if writeErr == nil && readErr == nil && chunked {
			_, writeErr = c.bw.WriteString("0\r\n\r\n")
		}
	}
	if readErr == nil && writeErr == nil {
		writeErr = c.flush()
	}
	return readErr, writeErr
}

// copyN copies n bytes from src to dst, calling beforeBlock when src has nothing buffered.
func copyN(dst *bufio.Writer, src *bufio.Reader, n int64, beforeBlock func() error) (readErr, writeErr error) {
	for n > 0 {
		if src.Buffered() == 0 {
			if err := beforeBlock(); err != nil {
				return nil, err
			}
			if _, err := src.Peek(1); err != nil {
				return unexpectedEOF(err), nil
			}
		}
		chunk, _ := src.Peek(int(min(n, int64(src.Buffered()))))
		if _, err := dst.Write(chunk); err != nil {
			return nil, err
		}
		src.Discard(len(chunk))
		n -= int64(len(chunk))
	}
	return nil, beforeBlock()
}

// copyChunked decodes a chunked body from src and writes it to dst, chunked again when
// chunked is set. The trailer fields follow unless they are hop-by-hop or framing fields;
// trailer is scratch space for parsing them.
func copyChunked(dst *bufio.Writer, src *bufio.Reader, chunked bool, trailer *head, beforeBlock func() error) (readErr, writeErr error) {
	readErr, writeErr = copyStream(dst, httputil.NewChunkedReader(src), src, chunked, beforeBlock)
	if readErr != nil || writeErr != nil {
		return readErr, writeErr
	}
	raw, err := peekTrailer(src)
	if err != nil {
		return fmt.Errorf("read trailer: %w", err), nil
	}
	if err := trailer.parseTrailer(raw); err != nil {
		return err, nil
	}
	if chunked {
		dst.WriteString("0\r\n")
		for _, f := range trailer.fields {
			if !trailer.hopByHop(f) && f.kind != kindContentLength && f.kind != kindHost && f.kind != kindTrailer {
				writeField(dst, f.name, f.value)
			}
		}
		_, writeErr = dst.WriteString("\r\n")
	}
	src.Discard(len(raw))
	return nil, writeErr
}

// copyStream copies r to dst until EOF, writing each read as one chunk when chunked is set.
// It calls beforeBlock when the buffered reader under r has nothing buffered.
func copyStream(dst *bufio.Writer, r io.Reader, under *bufio.Reader, chunked bool, beforeBlock func() error) (readErr, writeErr error) {
	bufp := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(bufp)
	buf := *bufp
	for {
		if under.Buffered() == 0 {
			if err := beforeBlock(); err != nil {
				return nil, err
			}
		}
		n, err := r.Read(buf)
		if n > 0 {
			if werr := writeChunk(dst, buf[:n], chunked); werr != nil {
				return nil, werr
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}

// writeChunk writes p, as one chunk when chunked is set. A bufio.Writer keeps its first
// error, so the last write reports any.
func writeChunk(dst *bufio.Writer, p []byte, chunked bool) error {
	if chunked {
		dst.Write(strconv.AppendInt(dst.AvailableBuffer(), int64(len(p)), 16))
		dst.WriteString("\r\n")
	}
	_, err := dst.Write(p)
	if chunked && err == nil {
		_, err = dst.WriteString("\r\n")
	}
	return err
}

// peekTrailer returns the trailer section after the last chunk, through its empty line,
// without consuming it.
func peekTrailer(br *bufio.Reader) ([]byte, error) {
	b, err := br.Peek(1)
	if err != nil {
		return nil, err
	}
	switch b[0] {
	case '\n':
		return b, nil
	case '\r':
		if b, err = br.Peek(2); err != nil {
			return nil, err
		}
		if b[1] != '\n' {
			return nil, errMalformed
		}
		return b, nil
	}
	return peekHead(br, false)
}

// unexpectedEOF turns the end of a stream inside a body into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
