package orchestrator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/clusterctl/clusterctl/internal/frontdoor"
)

// errMembershipRejected marks a membership that the front door read and
// refused, as opposed to a stream that broke.
var errMembershipRejected = errors.New("front door rejected the membership")

// memberStream is a `clusterctl frontdoor members --stream` process that
// runs in a front door through docker exec for the length of one command.
// Each rotation change is one line on its standard input and one reply
// line on its output, so a command pays for one exec per front door rather
// than one per change.
type memberStream struct {
	conn    types.HijackedResponse
	replies *bufio.Scanner
	stderr  lockedBuffer
}

// openMemberStream starts the stream process in a front door.
func (o *Orchestrator) openMemberStream(ctx context.Context, frontDoorID string) (*memberStream, error) {
	created, err := o.Engine.ContainerExecCreate(ctx, frontDoorID, container.ExecOptions{
		Cmd:         []string{ToolBinary, "frontdoor", "members", "--stream", "--socket", AdminSocket},
		AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("exec create in %s: %w", shortID(frontDoorID), err)
	}
	conn, err := o.Engine.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("exec attach in %s: %w", shortID(frontDoorID), err)
	}
	stdout, pipe := io.Pipe()
	s := &memberStream{conn: conn, replies: bufio.NewScanner(stdout)}
	go func() {
		_, err := stdcopy.StdCopy(pipe, &s.stderr, conn.Reader)
		pipe.CloseWithError(err)
	}()
	return s, nil
}

// push sends one membership and waits for the front door's reply, which
// comes once removed instances drained. Cancelling ctx closes the stream.
func (s *memberStream) push(ctx context.Context, membership []byte) error {
	stop := context.AfterFunc(ctx, s.close)
	defer stop()
	if _, err := s.conn.Conn.Write(append(membership, '\n')); err != nil {
		return s.broken(ctx, fmt.Errorf("write membership: %w", err))
	}
	if !s.replies.Scan() {
		err := s.replies.Err()
		if err == nil {
			err = io.EOF
		}
		return s.broken(ctx, fmt.Errorf("read membership reply: %w", err))
	}
	var reply frontdoor.StreamReply
	if err := json.Unmarshal(s.replies.Bytes(), &reply); err != nil {
		return s.broken(ctx, fmt.Errorf("membership reply %q is not JSON: %w", s.replies.Text(), err))
	}
	if reply.Error != "" {
		return fmt.Errorf("%w: %s", errMembershipRejected, reply.Error)
	}
	return nil
}

// broken returns ctx's error when ctx ended, else err with what the stream
// process printed on its standard error.
func (s *memberStream) broken(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if text := strings.TrimSpace(s.stderr.String()); text != "" {
		return fmt.Errorf("%w: %s", err, text)
	}
	return err
}

// close ends the stream: the process in the front door reads the end of
// its input and exits.
func (s *memberStream) close() {
	_ = s.conn.CloseWrite()
	s.conn.Close()
}

// lockedBuffer is a buffer that one goroutine writes and another reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
