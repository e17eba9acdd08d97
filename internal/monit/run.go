package monit

import (
	"context"
	"fmt"
	"io"

	tea "charm.land/bubbletea/v2"
)

// Run shows the view of project on out, a terminal, and reads keys from
// standard input until the user quits or ctx is done. It returns nil when
// the user quits with q, Esc or Ctrl-C, and ctx's error when ctx ends it.
// Ctrl-C reaches the view as a key, so it does not cancel ctx. The caller
// handles signals, because Run installs no signal handler.
func Run(ctx context.Context, project string, source Source, out io.Writer, opts Options) error {
	model := New(ctx, project, source, opts)
	program := tea.NewProgram(model,
		tea.WithContext(ctx),
		tea.WithOutput(out),
		tea.WithoutSignalHandler(),
	)
	_, err := program.Run()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("terminal view: %w", err)
	}
	return nil
}
