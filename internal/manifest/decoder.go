package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// RawDocument is one non-empty document of a YAML or JSON stream, before
// it is decoded into objects.
type RawDocument struct {
	// Index is the 0-based index among the stream's non-empty documents.
	Index int
	// Position is the 0-based index among all the stream's documents,
	// empty ones included, as a yaml.Decoder over the same bytes counts
	// them.
	Position int
	// Line is the 1-based line of the document's content.
	Line int
	// Node is the document's content (a mapping, a sequence or a scalar);
	// its lines are the stream's.
	Node *yaml.Node
}

// Decoder reads the documents of a YAML or JSON stream (JSON is YAML) one
// by one: eval, audit and test read manifests and suites through it, so
// that each reads the same documents with the same lines. Documents that
// hold nothing (only comments, only a separator, null) are skipped. It
// reads what kubectl apply -f reads (FuzzDecoderLikeKubectl), or refuses:
// content on a "---" line, as kubectl does (k8s.io/apimachinery/pkg/util/yaml
// YAMLReader.Read: "invalid Yaml document separator"), where YAML would
// read a document; separator lines the two read apart (see scan); a key
// twice in a mapping (see checkKeys); the non-specific tag "!" on a plain
// value (see checkTags). Any of those ends the stream.
type Decoder struct {
	source string
	stream []byte
	dec    *yaml.Decoder
	// seps are the lines of the document separators, for the start line
	// of a document that fails to parse.
	seps []int
	// lines are the input's lines, and bangs those that hold a "!", for
	// the non-specific tag check.
	lines    [][]byte
	bangs    map[int]bool
	index    int
	position int
	err      error
}

// NewDecoder returns a decoder of b; source names it in errors.
func NewDecoder(source string, b []byte) *Decoder {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		// A block scalar that ends the input keeps its final line break
		// for kubectl's yaml.v2 ("|\n  x" is "x\n"), not for yaml.v3:
		// the line break is written for it. The copy leaves b alone.
		b = append(b[:len(b):len(b)], '\n')
	}
	d := &Decoder{source: source, stream: b, dec: yaml.NewDecoder(bytes.NewReader(b))}
	d.scan(b)
	return d
}

// Text is the stream the decoder reads: the input, with a final line
// break. Decoding it again (into a Go type) gives the same documents.
func (d *Decoder) Text() []byte { return d.stream }

// scan records the separator lines and refuses those that kubectl and
// the YAML parser read differently. kubectl splits the input at lines
// that start with "---" and hold nothing else but white space or a
// comment (YAMLReader.Read trims with strings.TrimSpace, and keeps such a
// line as content when no document precedes it); YAML's marker is "---"
// followed by a space, a tab or the line's end, and its comments start
// after a space or a tab. A line that only one of them reads as a
// separator is refused: "---#note" or "---" and a no-break space.
// kubectl splits lines at "\n" only; the YAML parser also breaks them at a
// lone "\r", NEL, LS and PS, and a marker after one of those would be a
// document to YAML but not to kubectl, so it is refused too. The line
// numbers kept here are the YAML parser's.
func (d *Decoder) scan(b []byte) {
	line := 1
	for len(b) > 0 {
		var l []byte
		l, b, _ = bytes.Cut(b, []byte("\n"))
		if bytes.HasPrefix(l, []byte("---")) {
			rest := bytes.TrimSuffix(l[3:], []byte("\r"))
			if k := bytes.TrimSpace(rest); len(k) > 0 && k[0] != '#' {
				d.err = d.streamError(line, "content on the document separator line (%s): kubectl refuses it; start the document on the line after \"---\"", clip(string(bytes.TrimRight(l, "\r")), 60))
				return
			}
			if y := bytes.TrimLeft(rest, " \t"); len(y) > 0 && (y[0] != '#' || len(y) == len(rest)) {
				d.err = d.streamError(line, "document separator line %s: kubectl and YAML read it differently; write \"---\" or \"--- # comment\"", clip(string(bytes.TrimRight(l, "\r")), 60))
				return
			}
			d.seps = append(d.seps, line)
		}
		for i, p := range yamlLines(l) {
			if i > 0 && (bytes.HasPrefix(p, []byte("---")) || bytes.HasPrefix(p, []byte("..."))) {
				d.err = d.streamError(len(d.lines)+1, "a document marker (%s) after a line break other than \"\\n\" (a lone \"\\r\", NEL, LS or PS): YAML starts a document there, kubectl does not", clip(string(p), 20))
				return
			}
			d.lines = append(d.lines, p)
			if bytes.IndexByte(p, '!') >= 0 {
				if d.bangs == nil {
					d.bangs = map[int]bool{}
				}
				d.bangs[len(d.lines)] = true
			}
		}
		line = len(d.lines) + 1
	}
}

// streamError is a problem of the stream rather than of one document.
func (d *Decoder) streamError(line int, format string, args ...any) error {
	return &Error{Source: d.source, Index: -1, Item: -1, Line: line, Err: fmt.Errorf(format, args...)}
}

// yamlLines splits a line without its "\n" at the other YAML line breaks.
func yamlLines(l []byte) [][]byte {
	l = bytes.TrimSuffix(l, []byte("\r"))
	var out [][]byte
	for {
		i, n := -1, 0
		for j := 0; j < len(l) && i < 0; j++ {
			switch {
			case l[j] == '\r':
				i, n = j, 1
			case bytes.HasPrefix(l[j:], []byte("\u0085")):
				i, n = j, 2
			case bytes.HasPrefix(l[j:], []byte("\u2028")), bytes.HasPrefix(l[j:], []byte("\u2029")):
				i, n = j, 3
			}
		}
		if i < 0 {
			return append(out, l)
		}
		out = append(out, l[:i])
		l = l[i+n:]
	}
}

// Next returns the next non-empty document, or io.EOF after the last. A
// syntax error ends the stream: YAML cannot be read past it.
func (d *Decoder) Next() (RawDocument, error) {
	for d.err == nil {
		var doc yaml.Node
		if err := d.dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				d.err = io.EOF
			} else {
				d.err = d.syntaxError(err)
			}
			break
		}
		pos := d.position
		d.position++
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue
		}
		n := doc.Content[0]
		raw := RawDocument{Index: d.index, Position: pos, Line: n.Line, Node: n}
		d.index++
		err := checkKeys(n)
		if err == nil && d.bangs != nil {
			err = d.checkTags(n)
		}
		if err != nil {
			d.err = &Error{Source: d.source, Index: raw.Index, Item: -1, Line: raw.Line, Err: err}
			break
		}
		return raw, nil
	}
	return RawDocument{}, d.err
}

// yamlLine finds the line of a YAML parser error: "yaml: line 3: ...".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError names the document a parser error is in: it starts after
// the last separator before the error's line.
func (d *Decoder) syntaxError(err error) error {
	msg := err.Error()
	start := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if n := len(d.lines); line > n && n > 0 {
			// "unexpected end of stream" is on the line after the last,
			// the final line break's: it is the last line's problem.
			line = n
		}
		for _, s := range d.seps {
			if s < line {
				start = s + 1
			}
		}
		return &Error{Source: d.source, Index: d.index, Item: -1, Line: start, Err: lineError(line, "invalid YAML: %s", msg[len(m[0]):])}
	}
	return &Error{Source: d.source, Index: d.index, Item: -1, Line: start, Err: fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))}
}

// checkTags refuses the non-specific tag "!" on a plain scalar (! 12):
// kubectl's yaml.v2 reads its value as a string, while yaml.v3 keeps no
// trace of the tag and resolves the value (12), so Tollgate would review
// another object. The node's position in the source shows the tag.
func (d *Decoder) checkTags(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Style&(yaml.TaggedStyle|quotedStyles) == 0 && d.bangs[n.Line] && nonSpecific(d.text(n.Line, n.Column)) {
			return lineError(n.Line, "the non-specific tag \"!\" is not read the same by kubectl: quote the value or remove the tag")
		}
	case yaml.SequenceNode, yaml.MappingNode:
		for _, c := range n.Content {
			if err := d.checkTags(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// text returns the input from a 1-based line and column (in characters,
// as the YAML parser counts them).
func (d *Decoder) text(line, col int) string {
	if line < 1 || line > len(d.lines) || col < 1 {
		return ""
	}
	l := string(d.lines[line-1])
	for i := range l {
		if col--; col == 0 {
			return l[i:]
		}
	}
	return ""
}

// nonSpecific reports whether a node's text starts with the tag "!"
// (after an anchor, if any).
func nonSpecific(t string) bool {
	if strings.HasPrefix(t, "&") {
		end := strings.IndexAny(t, " \t")
		if end < 0 {
			return false
		}
		t = strings.TrimLeft(t[end:], " \t")
	}
	return t == "!" || (strings.HasPrefix(t, "!") && len(t) > 1 && strings.ContainsRune(" \t\r,]}", rune(t[1])))
}

// isNull reports whether a document's content is null: nothing, ~ or
// null, or tagged !!null.
func isNull(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	s, err := resolveScalar(n)
	return err == nil && s.kind == kindNull
}

// checkKeys refuses a mapping that has a key twice, in n and below (an
// anchored node is checked where it is defined). Strict decoding
// (sigs.k8s.io/yaml YAMLToJSONStrict, kustomize, kubectl -k: "mapping key
// already defined at line N") refuses duplicate keys, while plain kubectl
// -f keeps the last value and sends it (kubernetes/kubernetes#125885,
// #99286): readers disagree about which value wins, so Tollgate cannot
// know the object it would review and refuses it.
// Keys are compared as JSON keys: 1 and "1" are the same key.
func checkKeys(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if err := checkKeys(c); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		first := make(map[string]int, len(n.Content)/2)
		merge := 0
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if isMerge(k) {
				if merge > 0 {
					return lineError(k.Line, "duplicate merge key << (first at line %d)", merge)
				}
				merge = k.Line
				if err := checkKeys(n.Content[i+1]); err != nil {
					return err
				}
				continue
			}
			key, err := keyString(k)
			if err != nil {
				return err
			}
			if line, ok := first[key]; ok {
				return lineError(k.Line, "duplicate key %s (first at line %d)", strconv.Quote(key), line)
			}
			first[key] = k.Line
			if err := checkKeys(n.Content[i+1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// LineError is a problem at a line of the input; an Error's message names
// it when it is not the line the document starts at.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

func lineError(line int, format string, args ...any) error {
	return &LineError{Line: line, Err: fmt.Errorf(format, args...)}
}

// clip shortens s for a message and quotes it, escaping control
// characters.
func clip(s string, n int) string { return strconv.Quote(shorten(s, n)) }

// shorten cuts s after n runes.
func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "..."
	}
	return s
}
