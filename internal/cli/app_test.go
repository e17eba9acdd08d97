package cli

import (
	"bytes"
	"encoding/json"
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
		{[]string{"--bogus", "ps"}, "unknown flag --bogus; run clusterctl --help"},
		{[]string{"ps", "--bogus"}, "unknown flag --bogus; run clusterctl ps --help"},
		{[]string{"ps", "-p", "shop"}, "unknown flag -p for clusterctl ps: it is a global flag, so put it before the command, as in clusterctl -p VALUE ps"},
		{[]string{"logs", "--tail"}, "flag needs an argument: --tail; run clusterctl logs --help"},
		{[]string{"up", "--wait-timeout", "-5s"}, "invalid --wait-timeout -5s"},
		{[]string{"scale", "--bogus", "web=1"}, "unknown flag --bogus; run clusterctl scale --help"},
		{[]string{"rollout", "undo", "--to-revision", "abc", "web"}, `invalid value "abc" for flag --to-revision`},
		{[]string{"import", "pm2", "--bogus", "app.json"}, "unknown flag --bogus; run clusterctl import pm2 --help"},
		{[]string{"-p", "Bad Name", "ps"}, `invalid project name "Bad Name"`},
		{[]string{"-p", "Bad Name", "down"}, `invalid project name "Bad Name"`},
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

func TestMain_JSONProgressError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main([]string{"clusterctl", "--progress", "json", "scale"}, &stdout, &stderr)

	if code != ExitUsage {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, ExitUsage, stderr.String())
	}
	var event struct {
		Kind     string `json:"kind"`
		Message  string `json:"message"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal(stderr.Bytes(), &event); err != nil {
		t.Fatalf("stderr is not one JSON event: %v\n%s", err, stderr.String())
	}
	if event.Kind != "error" || event.ExitCode != ExitUsage || !strings.Contains(event.Message, "SERVICE=N") {
		t.Errorf("event = %+v, want kind error, exit_code 2 and the scale usage message", event)
	}
}

func TestMain_JSONProgressFlagError(t *testing.T) {
	for _, args := range [][]string{
		{"--progress", "json", "--bogus", "ps"},
		{"--progress=json", "bogus-command"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(append([]string{"clusterctl"}, args...), &stdout, &stderr)
		if code != ExitUsage {
			t.Errorf("clusterctl %s: exit code %d, want %d", strings.Join(args, " "), code, ExitUsage)
		}
		for line := range strings.SplitSeq(strings.TrimSpace(stderr.String()), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("clusterctl %s: stderr line is not JSON: %q", strings.Join(args, " "), line)
			}
		}
	}
}
