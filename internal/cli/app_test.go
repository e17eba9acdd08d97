package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestMain_FlagErrorsExitUsage runs commands with a flag mistake. Each one
// fails while its flags are parsed, before any engine call, and must exit
// with the usage code like a mistake in a global flag.
func TestMain_FlagErrorsExitUsage(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus", "ps"}, "flag provided but not defined: -bogus"},
		{[]string{"ps", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"logs", "--tail"}, "flag needs an argument: -tail"},
		{[]string{"scale", "--bogus", "web=1"}, "flag provided but not defined: -bogus"},
		{[]string{"rollout", "undo", "--to-revision", "abc", "web"}, `invalid value "abc" for flag -to-revision`},
		{[]string{"import", "pm2", "--bogus", "app.json"}, "flag provided but not defined: -bogus"},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := Main(append([]string{"clusterctl"}, tc.args...), &stdout, &stderr)
		if code != ExitUsage {
			t.Errorf("clusterctl %s: exit code %d, want %d; stderr:\n%s", strings.Join(tc.args, " "), code, ExitUsage, stderr.String())
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("clusterctl %s: stderr does not contain %q:\n%s", strings.Join(tc.args, " "), tc.want, stderr.String())
		}
	}
}
