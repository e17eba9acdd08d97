package compose

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/clusterctl/clusterctl/internal/prose"
)

// checkSources rejects values that compose-go accepts but changes before
// clusterctl reads them, so that only the YAML as written shows the
// problem. These are a command or entrypoint string with shell operators,
// which compose-go splits into words without a shell, and a short-syntax
// volume mode that compose-go ignores.
func (l *projectLoader) checkSources(services []Service) error {
	for _, svc := range services {
		if err := l.checkCommand(svc, "entrypoint", svc.Config.Entrypoint, nil); err != nil {
			return err
		}
		if err := l.checkCommand(svc, "command", svc.Config.Command, svc.Config.Entrypoint); err != nil {
			return err
		}
		if err := l.checkVolumeModes(svc); err != nil {
			return err
		}
	}
	return nil
}

// rawNode returns the value node at path in the last compose file that
// defines it, as a later file overrides an earlier one, and that file.
func (l *projectLoader) rawNode(path []string) (*yaml.Node, *source) {
	for i := len(l.sources) - 1; i >= 0; i-- {
		src := &l.sources[i]
		for _, doc := range src.docs {
			if node := lookupNode(documentRoot(doc), path); node != nil {
				return node, src
			}
		}
	}
	return nil, nil
}

// lookupNode follows mappings from node along path and returns the value
// node, or nil.
func lookupNode(node *yaml.Node, path []string) *yaml.Node {
	for _, name := range path {
		if node != nil && node.Kind == yaml.AliasNode {
			node = node.Alias
		}
		if node == nil || node.Kind != yaml.MappingNode {
			return nil
		}
		_, node = mappingEntry(node, name)
	}
	if node != nil && node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	return node
}

// checkCommand rejects a command or entrypoint written as one string that
// contains shell operators but does not run a shell. Docker Compose splits
// the string into words with go-shellwords and runs no shell. That parser
// stops at the first "&", "|", ";", "<" or ">" outside quotes and drops the
// rest of the string, and it keeps "$(...)" and backticks as literal
// arguments. words is what compose-go made of the string. entrypoint is
// the service's entrypoint when key is command, because a shell entrypoint
// with -c needs the whole script as one argument.
func (l *projectLoader) checkCommand(svc Service, key string, words, entrypoint []string) error {
	keyPath := []string{"services", svc.Name, key}
	node, src := l.rawNode(keyPath)
	if node == nil || node.Kind != yaml.ScalarNode || node.Tag == "!!null" {
		return nil
	}
	text := strings.ReplaceAll(node.Value, "$$", "$")
	operator := shellOperator(text)
	if operator == "" || runsShell(strings.Fields(text)) {
		return nil
	}

	fix := fmt.Sprintf("write %s: [\"sh\", \"-c\", %q] if the image has a shell, "+
		"or write the %s as a YAML list if the characters are meant literally", key, text, key)
	if runsShell(entrypoint) {
		fix = fmt.Sprintf("write it as a one-element list, %s: [%q], so that the entrypoint's "+
			"shell receives the whole script", key, text)
	}
	effect := fmt.Sprintf("so the program would receive %q as an argument", operator)
	if operator != "$(" && operator != "`" {
		effect = fmt.Sprintf("and it drops everything from %q on, so the container would run only %q",
			operator, strings.Join(words, " "))
	}
	return &InvalidError{
		File: src.path, Line: node.Line, Column: node.Column, Key: strings.Join(keyPath, "."), path: keyPath,
		Message: fmt.Sprintf("services.%s.%s %q contains the shell operator %q, but Docker Compose "+
			"runs %s %s without a shell, %s; %s",
			svc.Name, key, text, operator, article(key), key, effect, fix),
	}
}

// article returns the indefinite article for word.
func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// shellOperators are checked in this order, so that ">>" is reported
// rather than ">", and "&&" rather than "&".
var shellOperators = []string{"&&", "||", ">>", "2>", "$(", "`", "|", "&", ";", ">", "<"}

// shellOperator returns the first shell operator in text outside quotes, or
// "". Command substitution counts inside double quotes too, where a shell
// would expand it.
func shellOperator(text string) string {
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			}
			continue
		case c == '\\':
			i++
			continue
		case quote == '"' && c == '"':
			quote = 0
			continue
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
			continue
		}
		for _, op := range shellOperators {
			substitution := op == "$(" || op == "`"
			if strings.HasPrefix(text[i:], op) && (quote == 0 || substitution) {
				return op
			}
		}
	}
	return ""
}

// shells are the programs that runsShell recognises, by base name.
var shells = []string{"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"}

// runsShell reports whether args start with a shell and an option cluster
// that contains -c, such as "sh -c" or "/bin/bash -ec", optionally behind
// "env".
func runsShell(args []string) bool {
	if len(args) > 0 && path.Base(args[0]) == "env" {
		args = args[1:]
	}
	if len(args) < 2 || !slices.Contains(shells, path.Base(args[0])) {
		return false
	}
	for _, arg := range args[1:] {
		if !strings.HasPrefix(arg, "-") || strings.HasPrefix(arg, "--") {
			return false
		}
		if strings.Contains(arg, "c") {
			return true
		}
	}
	return false
}

// volumeModes are the options that the short volume syntax accepts after
// the second colon, as Docker Compose and the engine know them.
var volumeModes = []string{
	"ro", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated",
	"shared", "slave", "private", "rshared", "rslave", "rprivate",
}

// checkVolumeModes rejects an unknown option in a short-syntax volume, which
// compose-go drops without a word.
func (l *projectLoader) checkVolumeModes(svc Service) error {
	keyPath := []string{"services", svc.Name, "volumes"}
	node, src := l.rawNode(keyPath)
	if node == nil || node.Kind != yaml.SequenceNode {
		return nil
	}
	for _, item := range node.Content {
		if item.Kind != yaml.ScalarNode {
			continue
		}
		parts := splitVolume(item.Value)
		if len(parts) < 3 {
			continue
		}
		for _, mode := range strings.Split(parts[len(parts)-1], ",") {
			if strings.Contains(mode, "$") || slices.Contains(volumeModes, mode) {
				continue
			}
			return &InvalidError{
				File: src.path, Line: item.Line, Column: item.Column,
				Key: strings.Join(keyPath, "."), path: keyPath,
				Message: fmt.Sprintf("volume %q has the unknown mode %q, which Docker Compose "+
					"ignores; use %s, separated by commas", item.Value, mode, prose.JoinWords(volumeModes, "or")),
			}
		}
	}
	return nil
}

// splitVolume splits a short-syntax volume at the colons outside ${...}
// references and after a Windows drive letter.
func splitVolume(spec string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(spec); i++ {
		switch {
		case strings.HasPrefix(spec[i:], "${"):
			depth++
			i++
		case spec[i] == '}' && depth > 0:
			depth--
		case spec[i] == ':' && depth == 0 && (i != 1 || !isDriveLetter(spec[0])):
			parts = append(parts, spec[start:i])
			start = i + 1
		}
	}
	return append(parts, spec[start:])
}

func isDriveLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
