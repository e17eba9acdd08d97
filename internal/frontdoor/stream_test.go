package frontdoor

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestServeMembersStream(t *testing.T) {
	t.Parallel()
	fd := startFrontDoor(t, ModeHTTP)
	a := Backend{ID: "a", Name: "web-0", Slot: 0, Addr: "127.0.0.2"}
	b := Backend{ID: "b", Name: "web-1", Slot: 1, Addr: "127.0.0.3"}

	in, feed := io.Pipe()
	out, replies := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- ServeMembersStream(context.Background(), fd.socket, in, replies)
		replies.Close()
	}()
	read := bufio.NewScanner(out)
	send := func(line string) StreamReply {
		t.Helper()
		if _, err := io.WriteString(feed, line+"\n"); err != nil {
			t.Fatalf("write %s: %v", line, err)
		}
		if !read.Scan() {
			t.Fatalf("no reply to %s: %v", line, read.Err())
		}
		var reply StreamReply
		if err := json.Unmarshal(read.Bytes(), &reply); err != nil {
			t.Fatalf("reply %q is not JSON: %v", read.Text(), err)
		}
		return reply
	}
	encode := func(m Membership) string {
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}

	first := send(encode(Membership{Backends: []Backend{a, b}}))
	if first.Error != "" || first.Result == nil || !slices.Equal(first.Result.Added, []string{"a", "b"}) {
		t.Errorf("first reply %+v, want a and b added", first)
	}
	invalid := send("{not json")
	if !strings.Contains(invalid.Error, "invalid membership JSON") || invalid.Result != nil {
		t.Errorf("reply to invalid JSON %+v, want an error", invalid)
	}
	rejected := send(encode(Membership{Backends: []Backend{a, a}}))
	if rejected.Error == "" {
		t.Errorf("reply to a duplicate backend %+v, want an error", rejected)
	}
	second := send(encode(Membership{Backends: []Backend{b}, DrainTimeout: time.Second}))
	if second.Error != "" || second.Result == nil || len(second.Result.Removed) != 1 || second.Result.Removed[0].ID != "a" {
		t.Errorf("second reply %+v, want a removed", second)
	}
	var members []string
	for _, s := range status(t, fd).Backends {
		members = append(members, s.ID)
	}
	if !slices.Equal(members, []string{"b"}) {
		t.Errorf("members after the stream: %v, want [b]", members)
	}

	feed.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeMembersStream at the end of input: %v, want nil", err)
	}
}
