//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// monitCompose is one demo worker service with a memory limit, so that
// monit has a LIMIT to show.
const monitCompose = `
name: {{.Project}}
services:
  app:
    build:
      context: {{.WorkerDir}}
    image: {{.Image}}
    environment:
      OTEL_SDK_DISABLED: "true"
    deploy:
      resources:
        limits:
          memory: 64M
    x-clusterctl:
      instances: {{.Instances}}
`

// tmuxTerminal is a detached tmux session on a tmux server of its own, so
// that the test neither reads nor ends sessions it did not create. The
// server's socket lives in the test's temporary directory, because tmux
// 3.3 leaves it behind when the server exits.
type tmuxTerminal struct {
	t       testing.TB
	socket  string
	session string
}

// newTmuxTerminal starts command in a detached width x height terminal,
// with dir as its working directory. The cleanup ends the tmux server.
func newTmuxTerminal(t testing.TB, width, height int, dir, command string) *tmuxTerminal {
	t.Helper()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	term := &tmuxTerminal{
		t:       t,
		socket:  filepath.Join(t.TempDir(), "tmux.sock"),
		session: "clusterctl-monit-" + hex.EncodeToString(suffix),
	}
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-S", term.socket, "kill-server").Run()
	})
	term.mustRun("-f", "/dev/null", "new-session", "-d", "-s", term.session,
		"-x", fmt.Sprint(width), "-y", fmt.Sprint(height), "-c", dir, command)
	return term
}

func (term *tmuxTerminal) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tmux", append([]string{"-S", term.socket}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("tmux %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func (term *tmuxTerminal) mustRun(args ...string) string {
	term.t.Helper()
	out, err := term.run(args...)
	if err != nil {
		term.t.Fatal(err)
	}
	return out
}

// screen returns the visible text of the terminal, without colors.
func (term *tmuxTerminal) screen() (string, error) {
	return term.run("capture-pane", "-p", "-t", term.session)
}

// exists reports whether the session still runs, that is whether its
// command has not exited yet.
func (term *tmuxTerminal) exists() bool {
	_, err := term.run("has-session", "-t", term.session)
	return err == nil
}

// memoryCell matches a memory value as monit prints it, such as 2.95MiB.
var memoryCell = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(B|KiB|MiB|GiB)$`)

// monitRow returns the fields of the line of instance app.slot, or an
// error with the screen when there is no such line.
func monitRow(screen string, slot int) ([]string, error) {
	for line := range strings.Lines(screen) {
		fields := strings.Fields(line)
		if len(fields) > 0 && fields[0] == fmt.Sprintf("app.%d", slot) {
			return fields, nil
		}
	}
	return nil, fmt.Errorf("no row for app.%d on screen:\n%s", slot, screen)
}

// checkMonitRow returns an error unless fields are a measured, ready row of
// the 80-column layout: INSTANCE NAME STATE RESTARTS UPTIME CPU% MEM LIMIT.
func checkMonitRow(fields []string) error {
	if len(fields) != 8 {
		return fmt.Errorf("row %q has %d fields, want 8", fields, len(fields))
	}
	if fields[2] != "ready" {
		return fmt.Errorf("row %q: state %q, want ready", fields, fields[2])
	}
	if !strings.HasSuffix(fields[5], "%") || fields[5] == "-" {
		return fmt.Errorf("row %q: CPU%% %q is not a measured percentage", fields, fields[5])
	}
	if !memoryCell.MatchString(fields[6]) {
		return fmt.Errorf("row %q: memory %q is not a measured size", fields, fields[6])
	}
	if fields[7] != "64.0MiB" {
		return fmt.Errorf("row %q: limit %q, want 64.0MiB", fields, fields[7])
	}
	return nil
}

func TestMonit_ShowsInstancesInTerminal(t *testing.T) {
	p := newProject(t)
	p.writeCompose(monitCompose, composeVars{Instances: 2})
	p.mustRun("up")
	exitFile := filepath.Join(p.Dir, "monit.exit")
	stderrFile := filepath.Join(p.Dir, "monit.stderr")
	command := fmt.Sprintf("'%s' -p %s monit 2> monit.stderr; echo $? > monit.exit", clusterctlBin, p.Name)

	started := time.Now()
	term := newTmuxTerminal(t, 80, 24, p.Dir, command)
	var screen string
	eventually(t, 60*time.Second, func() error {
		if !term.exists() {
			code, _ := os.ReadFile(exitFile)
			stderr, _ := os.ReadFile(stderrFile)
			t.Fatalf("monit exited with %s before it showed its rows; stderr:\n%s", strings.TrimSpace(string(code)), stderr)
		}
		var err error
		if screen, err = term.screen(); err != nil {
			return err
		}
		for slot := range 2 {
			fields, err := monitRow(screen, slot)
			if err != nil {
				return err
			}
			if err := checkMonitRow(fields); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("rows measured %s after start:\n%s", time.Since(started).Round(time.Millisecond), screen)

	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	if !strings.Contains(lines[0], "project "+p.Name) {
		t.Errorf("title %q lacks the project name %s", lines[0], p.Name)
	}
	if !strings.Contains(lines[0], "updated ") {
		t.Errorf("title %q lacks the time of the last snapshot", lines[0])
	}
	wantHeader := []string{"INSTANCE", "NAME", "STATE", "RESTARTS", "UPTIME", "CPU%", "MEM", "LIMIT"}
	if !slices.ContainsFunc(lines, func(line string) bool { return slices.Equal(strings.Fields(line), wantHeader) }) {
		t.Errorf("no header line %v on screen:\n%s", wantHeader, screen)
	}
	if lines[len(lines)-1] != "q quit" {
		t.Errorf("last line %q, want the footer q quit:\n%s", lines[len(lines)-1], screen)
	}
	for i, line := range lines {
		if strings.Contains(line, "error:") {
			t.Errorf("line %d shows an error: %q", i, line)
		}
	}

	term.mustRun("send-keys", "-t", term.session, "q")
	eventually(t, 15*time.Second, func() error {
		if term.exists() {
			return errors.New("monit still runs after q")
		}
		return nil
	})
	code, err := os.ReadFile(exitFile)
	if err != nil {
		t.Fatalf("exit code of monit: %v", err)
	}
	if got := strings.TrimSpace(string(code)); got != "0" {
		t.Errorf("monit exited with %s after q, want 0", got)
	}
}
