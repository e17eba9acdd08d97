package compose

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched by every error that Load and Project.Select return
// for a problem the user must fix in the compose files, the env files or the
// options: a missing or unparsable file, an unknown key, a bad value, an
// unset required variable or an unknown service name. The CLI exits with
// code 2 for it. Test with errors.Is; the error itself is an *InvalidError.
var ErrInvalid = errors.New("invalid compose project")

// InvalidError describes one problem in the compose files or in Load's
// options, where it is, and how to fix it. errors.Is(err, ErrInvalid) is true
// for every *InvalidError.
type InvalidError struct {
	// File is the compose file or env file at fault. It is empty when the
	// problem is not in a file, and lists several files, comma-separated,
	// when the one at fault cannot be determined.
	File string
	// Line and Column locate the problem in File, numbered from 1 as an
	// editor numbers them, or are 0 when unknown.
	Line   int
	Column int
	// Key is the dotted key path at fault, such as
	// services.api.x-clusterctl.ready.port, or empty.
	Key string
	// Message states the problem and the fix in one or two sentences, and
	// names the key or value.
	Message string
	// Err is the underlying error, or nil.
	Err error

	// path is Key split into its parts. Service names may contain dots, so
	// Key alone cannot be split back.
	path []string
}

// Error returns the message behind "FILE:LINE:COLUMN: ", the prefix that
// editors and terminals recognise, with the parts that are unknown left out.
func (e *InvalidError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		if e.Line > 0 && e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *InvalidError) Is(target error) bool {
	return target == ErrInvalid
}

// Unwrap returns the underlying error, or nil.
func (e *InvalidError) Unwrap() error {
	return e.Err
}

// keyError returns an *InvalidError for the key at path. Load fills in the
// file and line from the compose files that contain the key.
func keyError(path []string, format string, args ...any) *InvalidError {
	return &InvalidError{
		Key:     strings.Join(path, "."),
		Message: fmt.Sprintf(format, args...),
		path:    path,
	}
}
