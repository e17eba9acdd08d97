package progress

import (
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// ellipsis ends a truncated row. It is East Asian Ambiguous, so CJK
// terminals may draw it two columns wide, which the empty last column of
// each row absorbs.
const ellipsis = "…"

// runeWidth returns the columns a terminal uses for r: 0 for combining
// marks and format characters, 2 for East Asian wide and fullwidth
// characters, 1 otherwise.
// NOTE: emoji sequences joined by U+200D count each emoji, which
// overestimates, and a U+FE0F variation selector counts 0, which may
// underestimate by one column.
func runeWidth(r rune) int {
	if unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf) {
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	default:
		return 1
	}
}

// textWidth returns the columns s takes on a terminal. s must contain no
// control characters.
func textWidth(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}

	return n
}

// truncate returns s cut to at most columns wide, ending in an ellipsis
// when it was cut.
func truncate(s string, columns int) string {
	if textWidth(s) <= columns {
		return s
	}
	if columns <= 0 {
		return ""
	}

	var b strings.Builder
	used := 0
	for _, r := range s {
		w := runeWidth(r)
		if used+w > columns-1 {
			break
		}
		b.WriteRune(r)
		used += w
	}
	b.WriteString(ellipsis)

	return b.String()
}

// pad returns s followed by spaces up to columns wide.
func pad(s string, columns int) string {
	return s + strings.Repeat(" ", max(columns-textWidth(s), 0))
}
