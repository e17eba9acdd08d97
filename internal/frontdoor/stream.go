package frontdoor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// StreamReply is the reply to one membership line of ServeMembersStream:
// the drain result, or the reason the membership was not applied.
type StreamReply struct {
	Result *DrainResult `json:"result,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// ServeMembersStream reads one Membership per line of JSON from r, applies
// each with SetMembers on the admin socket, and writes one StreamReply per
// line to w, in order. It returns nil at the end of r.
//
// The orchestrator keeps one such stream open through docker exec for a
// whole command, so that each later rotation change costs a line instead
// of a new exec. An exec took from 0.1 s on a quiet engine to over a
// second on a busy one.
// An invalid line gets an error reply, and the stream goes on.
func ServeMembersStream(ctx context.Context, socket string, r io.Reader, w io.Writer) error {
	lines := bufio.NewScanner(r)
	lines.Buffer(make([]byte, 0, 64<<10), maxAdminBody)
	out := json.NewEncoder(w)
	for lines.Scan() {
		var reply StreamReply
		var m Membership
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			reply.Error = fmt.Sprintf("invalid membership JSON: %v", err)
		} else if result, err := SetMembers(ctx, socket, m); err != nil {
			reply.Error = err.Error()
		} else {
			reply.Result = &result
		}
		if err := out.Encode(reply); err != nil {
			return fmt.Errorf("write membership reply: %w", err)
		}
	}
	if err := lines.Err(); err != nil {
		return fmt.Errorf("read membership stream: %w", err)
	}
	return nil
}
