package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// Parse reads and decodes one file's content.
func Parse(source string, b []byte, strict bool) ([]Document, []error) {
	var docs []Document
	var errs []error
	dec := NewDecoder(source, b)
	for {
		raw, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, err)
			break
		}
		d, e := parseNode(source, raw.Index, raw.Node, strict)
		docs, errs = append(docs, d...), append(errs, e...)
	}
	return docs, errs
}

// ParseNode decodes the objects of one YAML node (an object, or a kind:
// List of them) that is not a document of its own, such as a test suite's
// inline object; its lines are those of source.
func ParseNode(source string, n *yaml.Node, strict bool) ([]Document, []error) {
	if err := checkKeys(n); err != nil {
		return nil, []error{&Error{Source: source, Index: -1, Item: -1, Line: n.Line, Err: err}}
	}
	return parseNode(source, -1, n, strict)
}

func parseNode(source string, index int, n *yaml.Node, strict bool) ([]Document, []error) {
	var docs []Document
	var errs []error
	fail := func(item, line int, err error) {
		errs = append(errs, &Error{Source: source, Index: index, Item: item, Line: line, Err: err})
	}
	if isNull(n) {
		return nil, nil
	}
	if t := deref(n); t == nil || t.Kind != yaml.MappingNode {
		fail(-1, n.Line, errors.New("not an object (a Kubernetes manifest is a mapping with apiVersion and kind)"))
		return nil, errs
	}
	raw, err := ToJSON(n)
	if err != nil {
		fail(-1, n.Line, err)
		return nil, errs
	}
	items, ok, err := listItems(raw)
	switch {
	case err != nil:
		fail(-1, n.Line, err)
	case ok:
		nodes := itemNodes(n, len(items))
		for i, item := range items {
			in := nodes[i]
			if _, nested, _ := listItems(item); nested {
				fail(i, in.Line, errors.New("a List inside a List is not read: give its items directly"))
				continue
			}
			d, err := decode(source, index, i, item, in, strict)
			if err != nil {
				fail(i, in.Line, err)
				continue
			}
			docs = append(docs, d)
		}
	default:
		d, err := decode(source, index, -1, raw, n, strict)
		if err != nil {
			fail(-1, n.Line, err)
		} else {
			docs = append(docs, d)
		}
	}
	return docs, errs
}

func decode(source string, index, item int, raw []byte, n *yaml.Node, strict bool) (Document, error) {
	d := Document{Source: source, Index: index, Item: item, Line: n.Line}
	o, err := kubeobjects.Decode(raw, strict)
	if errors.Is(err, kubeobjects.ErrUnknownKind) {
		d.Object, d.Skipped = o, true
		return d, nil
	}
	if err != nil {
		if msg := err.Error(); o != nil && !strictError(msg) {
			// A value's own UnmarshalJSON (a quantity, a time) names no
			// field, and encoding/json's type errors name it without list
			// indices: the field is found in the object, with its line.
			if path, value := fieldOf(raw, strict, msg); path != "" {
				var where []string
				named := strings.HasPrefix(msg, "field ")
				if named {
					// Its message stays as the webhooks give it.
					where = append(where, "at "+path)
				}
				if value != "" {
					where = append(where, "value "+value)
				}
				if l := lineOfPath(n, path); l > 0 {
					where = append(where, fmt.Sprintf("line %d", l))
				}
				switch {
				case named:
					err = fmt.Errorf("%w (%s)", err, strings.Join(where, ", "))
				case len(where) > 0:
					err = fmt.Errorf("field %s: %w (%s)", path, err, strings.Join(where, ", "))
				default:
					err = fmt.Errorf("field %s: %w", path, err)
				}
			}
		}
		if o != nil && o.Name != "" {
			return d, fmt.Errorf("%s %s: %w", printable(o.GVK.Kind), printable(o.Name), err)
		}
		return d, err
	}
	d.Object = o
	return d, nil
}

// strictError reports whether a decoding error is strict decoding's
// (unknown or duplicate fields): it names its fields, all of them.
func strictError(msg string) bool {
	return strings.Contains(msg, "unknown field") || strings.Contains(msg, "duplicate field")
}

// listItems returns the items of a kind: List (v1 List, or any *List kind
// that has items).
func listItems(raw []byte) ([][]byte, bool, error) {
	var head struct {
		Kind  string          `json:"kind"`
		Items json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || !strings.HasSuffix(head.Kind, "List") {
		return nil, false, nil
	}
	if head.Items == nil || string(head.Items) == "null" {
		// A v1 List without items is empty; another kind named *List
		// without items is an object of that kind.
		return nil, head.Kind == "List", nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(head.Items, &items); err != nil {
		return nil, false, fmt.Errorf("%s: items must be a list of objects", printable(head.Kind))
	}
	out := make([][]byte, len(items))
	for i, it := range items {
		out[i] = it
	}
	return out, true, nil
}

// itemNodes returns the nodes of a List's items, for their lines; where
// they cannot be told apart (items built with a merge key), the List's.
func itemNodes(n *yaml.Node, count int) []*yaml.Node {
	out := make([]*yaml.Node, count)
	for i := range out {
		out[i] = n
	}
	m := deref(n)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k, err := keyString(m.Content[i]); err != nil || k != "items" || isMerge(m.Content[i]) {
			continue
		}
		if s := deref(m.Content[i+1]); s != nil && s.Kind == yaml.SequenceNode && len(s.Content) == count {
			copy(out, s.Content)
		}
	}
	return out
}

// printable returns s, or s quoted with its control characters escaped
// when it has any, so that a crafted name cannot forge lines in a log.
func printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}
