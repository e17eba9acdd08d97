package pm2import

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched by every error that Load, Parse and Translate return
// for a problem the user must fix in the ecosystem file. Such problems are a
// file that cannot be parsed or evaluated, a missing apps list or script,
// and an invalid value. Test with errors.Is: the error is an *InvalidError.
var ErrInvalid = errors.New("invalid PM2 ecosystem file")

// InvalidError describes one problem in an ecosystem file and how to fix it.
type InvalidError struct {
	// File is the ecosystem file's path, or empty when unknown.
	File string
	// Line is the line of a JavaScript error, numbered from 1, or 0.
	Line int
	// App is the name of the app at fault, or empty for the whole file.
	App string
	// Message states the problem, names the key or value, and gives the fix.
	Message string
	// Err is the underlying error, or nil.
	Err error
}

// Error returns "FILE:LINE: app NAME: MESSAGE", leaving out the parts that
// are unknown.
func (e *InvalidError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.App != "" {
		fmt.Fprintf(&b, "app %s: ", e.App)
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

// appError returns an *InvalidError for the app named app.
func appError(app, format string, args ...any) *InvalidError {
	return &InvalidError{App: app, Message: fmt.Sprintf(format, args...)}
}
