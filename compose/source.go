package compose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/schema"
	"go.yaml.in/yaml/v4"

	"github.com/clusterctl/clusterctl/internal/prose"
)

// source is one compose file as read from disk, with its YAML documents.
// Load parses each file itself before compose-go does, to report syntax
// errors, duplicate keys and unknown top-level keys with the file and the
// line, and to find the line of a key named in a later error.
type source struct {
	path    string
	content []byte
	docs    []*yaml.Node
}

// readSource reads and checks the compose file at path.
func readSource(path string) (source, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		message := fmt.Sprintf("cannot read the compose file: %v; check its path and permissions",
			err)
		return source{}, &InvalidError{File: path, Message: message, Err: err}
	}

	src := source{path: path, content: content}
	if err := src.parse(); err != nil {
		return source{}, err
	}
	return src, src.check()
}

// parse decodes every YAML document of the file into a node tree.
func (s *source) parse() error {
	decoder := yaml.NewDecoder(bytes.NewReader(s.content))
	for {
		var doc yaml.Node
		err := decoder.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return s.syntaxError(err)
		}
		s.docs = append(s.docs, &doc)
	}
}

// syntaxError turns a go-yaml error into an *InvalidError with the line as
// an editor numbers it.
func (s *source) syntaxError(err error) error {
	e := &InvalidError{File: s.path, Err: err}
	pos, ok := parseYAMLError(err, s.content)
	if !ok {
		e.Message = fmt.Sprintf("invalid YAML: %v; fix the syntax", err)
		return e
	}

	e.Line, e.Column = pos.line, pos.column
	e.Message = fmt.Sprintf("invalid YAML: %s; fix the indentation or syntax on line %d",
		pos.describe(), pos.line)
	return e
}

// yamlError is a go-yaml syntax error with lines and columns numbered from 1.
type yamlError struct {
	problem       string
	line, column  int
	context       string
	contextLine   int
	contextColumn int
}

func (y yamlError) describe() string {
	if y.context == "" || y.contextLine == 0 {
		return y.problem
	}
	return fmt.Sprintf("%s, %s that starts at line %d, column %d",
		y.problem, y.context, y.contextLine, y.contextColumn)
}

// parseYAMLError reads the position out of the syntax errors of
// go.yaml.in/yaml/v4. Their types (ParserError, ScannerError, ReaderError)
// live in an internal package, so only reflection reaches their fields.
//
// In v4.0.0-rc.4 a ScannerError's lines already count from 1, but a
// ParserError's lines count from 0, and so does the line in its Error text.
// Columns are stored from 0 in both. TestLoad_YAMLErrorLine pins these
// offsets, so an upgrade that changes them fails there.
func parseYAMLError(err error, content []byte) (yamlError, bool) {
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Struct {
		return yamlError{}, false
	}

	switch v.Type().Name() {
	case "ParserError":
		return markedYAMLError(v, 1)
	case "ScannerError":
		return markedYAMLError(v, 0)
	case "ReaderError":
		return readerYAMLError(v, content)
	default:
		return yamlError{}, false
	}
}

// markedYAMLError reads a libyaml MarkedYAMLError value, adding lineOffset to
// its line numbers.
func markedYAMLError(v reflect.Value, lineOffset int) (yamlError, bool) {
	line, column, ok := yamlMark(v.FieldByName("Mark"))
	if !ok {
		return yamlError{}, false
	}

	y := yamlError{
		problem: stringField(v, "Message"),
		line:    line + lineOffset,
		column:  column + 1,
		context: stringField(v, "ContextMessage"),
	}
	if cl, cc, ok := yamlMark(v.FieldByName("ContextMark")); ok && y.context != "" {
		y.contextLine, y.contextColumn = cl+lineOffset, cc+1
	}
	return y, true
}

// readerYAMLError locates a libyaml ReaderError, which carries a byte offset
// into the file.
func readerYAMLError(v reflect.Value, content []byte) (yamlError, bool) {
	offset := v.FieldByName("Offset")
	if !offset.CanInt() {
		return yamlError{}, false
	}

	end := min(int(offset.Int()), len(content))
	before := content[:end]
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return yamlError{
		problem: fmt.Sprint(v.FieldByName("Err").Interface()),
		line:    bytes.Count(before, []byte("\n")) + 1,
		column:  len([]rune(string(before[lineStart:]))) + 1,
	}, true
}

// yamlMark returns the Line and Column fields of a libyaml Mark as stored.
func yamlMark(mark reflect.Value) (line, column int, ok bool) {
	if mark.Kind() != reflect.Struct {
		return 0, 0, false
	}
	l, c := mark.FieldByName("Line"), mark.FieldByName("Column")
	if !l.CanInt() || !c.CanInt() {
		return 0, 0, false
	}
	return int(l.Int()), int(c.Int()), true
}

func stringField(v reflect.Value, name string) string {
	f := v.FieldByName(name)
	if f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

// check rejects what compose-go reports without a line: a top level that is
// not a mapping, an unknown top-level key, and a key defined twice.
func (s *source) check() error {
	for _, doc := range s.docs {
		root := documentRoot(doc)
		if root == nil {
			continue
		}
		if err := s.checkTopLevel(root); err != nil {
			return err
		}
		if err := s.checkDuplicateKeys(root, nil); err != nil {
			return err
		}
	}
	return nil
}

// documentRoot returns the content of a document node, or nil for an empty
// document.
func documentRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	return root
}

func (s *source) checkTopLevel(root *yaml.Node) error {
	if root.Kind != yaml.MappingNode {
		return &InvalidError{
			File: s.path, Line: root.Line, Column: root.Column,
			Message: "the top level of a compose file must be a mapping with keys " +
				"such as services; check that the file is a compose file",
		}
	}

	valid := topLevelKeys()
	for i := 0; i+1 < len(root.Content); i += 2 {
		key := root.Content[i]
		name := key.Value
		if strings.HasPrefix(name, "x-") || name == "<<" || slices.Contains(valid, name) {
			continue
		}
		return &InvalidError{
			File: s.path, Line: key.Line, Column: key.Column, Key: name,
			Message: fmt.Sprintf("unknown top-level key %q; valid top-level keys are %s, "+
				"and extensions that start with x-; fix the spelling, remove the key, "+
				"or rename it to start with x-", name, prose.JoinWords(valid, "and")),
			path: []string{name},
		}
	}
	return nil
}

// topLevelKeys returns the top-level keys of the compose-spec JSON schema
// that compose-go validates against, sorted.
var topLevelKeys = sync.OnceValue(func() []string {
	var spec struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal([]byte(schema.Schema), &spec); err != nil {
		panic(fmt.Sprintf("compose-go schema: %v", err))
	}
	return slices.Sorted(maps.Keys(spec.Properties))
})

// checkDuplicateKeys rejects a mapping key that appears twice under the same
// parent. YAML forbids it, and compose-go's message for it numbers the
// document instead of the line.
func (s *source) checkDuplicateKeys(node *yaml.Node, path []string) error {
	if node.Kind == yaml.MappingNode {
		if err := s.checkMappingKeys(node, path); err != nil {
			return err
		}
	}

	for i, child := range node.Content {
		childPath := path
		if node.Kind == yaml.MappingNode && i%2 == 1 {
			childPath = append(slices.Clip(path), node.Content[i-1].Value)
		}
		if err := s.checkDuplicateKeys(child, childPath); err != nil {
			return err
		}
	}
	return nil
}

func (s *source) checkMappingKeys(node *yaml.Node, path []string) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key := node.Content[i]
		if key.Kind != yaml.ScalarNode || key.Value == "<<" {
			continue
		}
		first, dup := seen[key.Value]
		if !dup {
			seen[key.Value] = key.Line
			continue
		}

		keyPath := append(slices.Clip(path), key.Value)
		return &InvalidError{
			File: s.path, Line: key.Line, Column: key.Column, Key: strings.Join(keyPath, "."),
			Message: fmt.Sprintf("key %s is defined twice, on lines %d and %d; remove one of them",
				strings.Join(keyPath, "."), first, key.Line),
			path: keyPath,
		}
	}
	return nil
}

// find returns how many parts of path the file defines, following mappings
// from the top level, and the line of the deepest key found.
func (s *source) find(path []string) (depth, line int) {
	for _, doc := range s.docs {
		d, l := findKey(documentRoot(doc), path)
		if d > depth {
			depth, line = d, l
		}
	}
	return depth, line
}

func findKey(node *yaml.Node, path []string) (depth, line int) {
	for depth < len(path) {
		if node != nil && node.Kind == yaml.AliasNode {
			node = node.Alias
		}
		if node == nil || node.Kind != yaml.MappingNode {
			return depth, line
		}

		key, value := mappingEntry(node, path[depth])
		if key == nil {
			return depth, line
		}
		depth, line, node = depth+1, key.Line, value
	}
	return depth, line
}

func mappingEntry(node *yaml.Node, name string) (key, value *yaml.Node) {
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == name {
			return node.Content[i], node.Content[i+1]
		}
	}
	return nil, nil
}

// findVariable returns the 1-based line of the first reference to the
// variable name, written ${name...} or $name, or 0 when there is none.
func (s *source) findVariable(name string) int {
	for i, text := range strings.Split(string(s.content), "\n") {
		if referencesVariable(text, "${"+name) || referencesVariable(text, "$"+name) {
			return i + 1
		}
	}
	return 0
}

// referencesVariable reports whether text contains ref not followed by a
// character that would make the variable name longer.
func referencesVariable(text, ref string) bool {
	for rest := text; ; {
		i := strings.Index(rest, ref)
		if i < 0 {
			return false
		}
		rest = rest[i+len(ref):]
		if rest == "" || !isNameByte(rest[0]) {
			return true
		}
	}
}

func isNameByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
