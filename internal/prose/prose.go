// Package prose formats values for messages that people read.
package prose

import "strings"

// JoinWords joins words with commas and the conjunction before the last,
// "and" or "or": "a", "a or b", "a, b or c".
func JoinWords(words []string, conjunction string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	default:
		return strings.Join(words[:len(words)-1], ", ") + " " + conjunction + " " + words[len(words)-1]
	}
}
