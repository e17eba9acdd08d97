package pm2import

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxInstances is the largest instance count accepted, far above any
// machine's CPU count, so that a typo such as 1000000 fails here.
const maxInstances = 1024

// instanceCount is x-clusterctl.instances: an int, or "max".
type instanceCount = any

// parseInstances parses PM2's instances: a number, a string that holds one,
// or "max". 0 means max, and -N means the CPU count minus N, as in PM2.
func parseInstances(value any) (instanceCount, error) {
	if s, ok := value.(string); ok && strings.TrimSpace(s) == "max" {
		return "max", nil
	}
	n, err := parseInt(value)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s is not a valid instance count; use a whole number such as 4, "+
			"\"max\" or 0 for one instance per CPU, or -1 for the CPU count minus 1", describe(value))
	case n == 0:
		return "max", nil
	case n > maxInstances:
		return nil, fmt.Errorf("%d is above the limit of %d instances; use a smaller number or \"max\"",
			n, maxInstances)
	default:
		return n, nil
	}
}

// parseInt parses a whole JSON number, or a string that holds one.
func parseInt(value any) (int, error) {
	var text string
	switch v := value.(type) {
	case json.Number:
		text = v.String()
	case string:
		text = strings.TrimSpace(v)
	default:
		return 0, errors.New("not a number")
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		f, ferr := strconv.ParseFloat(text, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
			return 0, fmt.Errorf("%q is not a whole number", text)
		}
		n = int(f)
	}
	return n, nil
}

// parseBool parses a boolean, or the string "true" or "false".
func parseBool(value any) (bool, error) {
	switch v := value.(type) {
	case bool:
		return v, nil
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("%s is not true or false", describe(value))
}

// parseMilliseconds parses a PM2 time: a number of milliseconds, a string
// that holds one, or a duration with a unit such as "10s", "1.5m" or
// "500ms".
func parseMilliseconds(value any) (time.Duration, error) {
	var text string
	switch v := value.(type) {
	case json.Number:
		text = v.String()
	case string:
		text = strings.TrimSpace(v)
	default:
		return 0, fmt.Errorf("%s is not a time; use milliseconds such as 5000 "+
			"or a duration such as \"5s\"", describe(value))
	}

	if ms, err := strconv.ParseFloat(text, 64); err == nil {
		if ms < 0 || ms > float64(math.MaxInt64/time.Millisecond) {
			return 0, fmt.Errorf("%s ms is out of range; use a positive number of milliseconds", text)
		}
		return time.Duration(ms * float64(time.Millisecond)), nil
	}
	d, err := time.ParseDuration(text)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a time; use milliseconds such as 5000 "+
			"or a duration such as \"5s\"", text)
	}
	return d, nil
}

// formatDuration writes d for compose, without the zero units that
// time.Duration.String adds: "1m" rather than "1m0s".
func formatDuration(d time.Duration) string {
	text := d.String()
	if strings.HasSuffix(text, "m0s") {
		text = strings.TrimSuffix(text, "0s")
	}
	if strings.HasSuffix(text, "h0m") {
		text = strings.TrimSuffix(text, "0m")
	}
	return text
}

// memorySize matches PM2's max_memory_restart: a number with an optional
// K, M or G unit (powers of 1024), case-insensitive, with an optional B.
var memorySize = regexp.MustCompile(`(?i)^(\d+(?:\.\d+)?)\s*([kmg]?)b?$`)

// parseMemory converts max_memory_restart into a compose memory size such
// as "2g", or a byte count without a unit.
func parseMemory(value any) (string, error) {
	var text string
	switch v := value.(type) {
	case json.Number:
		text = v.String()
	case string:
		text = strings.TrimSpace(v)
	}

	m := memorySize.FindStringSubmatch(text)
	if m == nil {
		return "", fmt.Errorf("%s is not a memory size; use a size such as \"300M\" or \"2G\", "+
			"or a number of bytes", describe(value))
	}
	if size, err := strconv.ParseFloat(m[1], 64); err != nil || size == 0 {
		return "", fmt.Errorf("%s is not a memory size above 0; use a size such as \"300M\"",
			describe(value))
	}
	return m[1] + strings.ToLower(m[2]), nil
}

// parseArguments parses args and interpreter_args: a list of strings and
// numbers, or one string split as a shell splits words.
func parseArguments(value any) ([]string, error) {
	switch v := value.(type) {
	case nil:
		return nil, nil
	case string:
		return splitWords(v)
	case []any:
		words := make([]string, 0, len(v))
		for _, item := range v {
			switch item.(type) {
			case string, json.Number, bool:
				words = append(words, fmt.Sprint(item))
			default:
				return nil, fmt.Errorf("the list contains %s; use strings only", describe(item))
			}
		}
		return words, nil
	default:
		return nil, fmt.Errorf("%s is not a string or a list of strings", describe(value))
	}
}

// splitWords splits s at unquoted white space. Single quotes keep their
// content as written; double quotes and a backslash outside quotes escape
// the next character. Nothing is expanded.
func splitWords(s string) ([]string, error) {
	var (
		words   []string
		word    strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			word.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("%q has an unterminated quote or a trailing backslash", s)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// envValue converts an env value to the string the process receives.
// Objects and lists become their JSON text and null the empty string.
func envValue(value any) (string, error) {
	switch v := value.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number, bool:
		return fmt.Sprint(v), nil
	default:
		text, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("encode as JSON: %w", err)
		}
		return string(text), nil
	}
}

// isInert reports whether value leaves a PM2 option off: null, false, 0, an
// empty string, list or object. Such an option needs no translation.
func isInert(value any) bool {
	switch v := value.(type) {
	case nil:
		return true
	case bool:
		return !v
	case json.Number:
		f, err := v.Float64()
		return err == nil && f == 0
	case string:
		return strings.TrimSpace(v) == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	default:
		return false
	}
}
