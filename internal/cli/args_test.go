package cli

import (
	"io"
	"slices"
	"strings"
	"testing"
)

func TestInterspersed(t *testing.T) {
	t.Parallel()
	app := newApp(io.Discard, io.Discard)
	cases := []struct{ in, want string }{
		{"clusterctl rollout history web --json", "clusterctl rollout history --json web"},
		{"clusterctl -p demo rollout undo web --to-revision 3", "clusterctl -p demo rollout undo --to-revision 3 web"},
		{"clusterctl -f a.yaml -f b.yaml up web --build", "clusterctl -f a.yaml -f b.yaml up --build web"},
		{"clusterctl logs web -f --tail 5", "clusterctl logs -f --tail 5 web"},
		{"clusterctl ps --json", "clusterctl ps --json"},
		{"clusterctl rollout web", "clusterctl rollout web"},
		{"clusterctl probe --port 80 10.0.0.2", "clusterctl probe --port 80 10.0.0.2"},
		{"clusterctl logs -- web --tail", "clusterctl logs -- web --tail"},
		{"clusterctl nosuch --x y", "clusterctl nosuch --x y"},
	}
	for _, tc := range cases {
		got := strings.Join(interspersed(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("interspersed(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := interspersed(app, []string{"clusterctl"}); !slices.Equal(got, []string{"clusterctl"}) {
		t.Errorf("interspersed of the bare program = %v", got)
	}
}
