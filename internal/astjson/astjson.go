// Package astjson parses JSON straight into OPA's ast.Value, without the
// map[string]any step that ast.ValueFromReader takes. Every admission review
// converts its object once, so this sits on the hot path.
package astjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 1000

// Parse parses one JSON value. Trailing non-space bytes are an error.
func Parse(b []byte) (ast.Value, error) { return parse(b, false) }

// ParseObject parses a Kubernetes object: object members whose value is
// null are dropped, since for the API a null field is an unset one (and Go
// decoding of the same bytes leaves it unset), so that policies see the
// same document whether it came from raw bytes or from a Go value.
func ParseObject(b []byte) (ast.Value, error) { return parse(b, true) }

// ParseKubernetesObject is ParseObject without metadata.managedFields: the
// server-side apply bookkeeping, often half of an object's bytes, which no
// policy reads. It is skipped, not converted.
func ParseKubernetesObject(b []byte) (ast.Value, error) {
	p := parser{b: b, dropNulls: true, kube: true, skipAt: -1}
	return p.top()
}

func parse(b []byte, dropNulls bool) (ast.Value, error) {
	p := parser{b: b, dropNulls: dropNulls, skipAt: -1}
	return p.top()
}

func (p *parser) top() (ast.Value, error) {
	p.space()
	t, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, p.errorf("unexpected data after the top-level value")
	}
	return t.Value, nil
}

type parser struct {
	b         []byte
	i         int
	dropNulls bool
	// kube skips metadata.managedFields of the top-level object: skipAt is
	// the depth of the metadata object while it is parsed, else -1.
	kube   bool
	skipAt int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("json at offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (*ast.Term, error) {
	if depth > maxDepth {
		return nil, p.errorf("nesting deeper than %d", maxDepth)
	}
	if p.i >= len(p.b) {
		return nil, p.errorf("unexpected end of input")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		return ast.StringTerm(s), nil
	case c == 't':
		return p.literal("true", ast.BooleanTerm(true))
	case c == 'f':
		return p.literal("false", ast.BooleanTerm(false))
	case c == 'n':
		return p.literal("null", ast.NullTerm())
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return nil, p.errorf("unexpected character %q", c)
	}
}

func (p *parser) literal(word string, t *ast.Term) (*ast.Term, error) {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return nil, p.errorf("invalid literal")
	}
	p.i += len(word)
	return t, nil
}

func (p *parser) object(depth int) (*ast.Term, error) {
	p.i++ // {
	var items [][2]*ast.Term
	var keys []string
	var index map[string]int // built once an object grows past a few keys
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return ast.ObjectTerm(), nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.errorf("expected an object key")
		}
		k, err := p.string()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.errorf("expected ':' after object key")
		}
		p.i++
		p.space()
		if depth == p.skipAt && k == "managedFields" {
			if err := p.skip(); err != nil {
				return nil, err
			}
		} else {
			metadata := p.kube && depth == 0 && k == "metadata"
			if metadata {
				p.skipAt = depth + 1
			}
			v, err := p.value(depth + 1)
			if metadata {
				p.skipAt = -1
			}
			if err != nil {
				return nil, err
			}
			items, keys, index = p.member(items, keys, index, k, v)
		}
		p.space()
		if p.i >= len(p.b) {
			return nil, p.errorf("unterminated object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return ast.ObjectTerm(items...), nil
		default:
			return nil, p.errorf("expected ',' or '}' in object")
		}
	}
}

// member adds k: v to an object being built. Duplicate keys keep the last
// value, as encoding/json does; with dropNulls a null removes the key.
func (p *parser) member(items [][2]*ast.Term, keys []string, index map[string]int, k string, v *ast.Term) ([][2]*ast.Term, []string, map[string]int) {
	if p.dropNulls && v.Value.Compare(ast.Null{}) == 0 {
		if at, dup := lookup(keys, index, k); dup {
			items = append(items[:at], items[at+1:]...)
			keys = append(keys[:at], keys[at+1:]...)
			index = nil
			if len(keys) > 16 {
				index = make(map[string]int, 2*len(keys))
				for i, k := range keys {
					index[k] = i
				}
			}
		}
	} else if at, dup := lookup(keys, index, k); dup {
		items[at][1] = v
	} else {
		items = append(items, [2]*ast.Term{ast.StringTerm(k), v})
		keys = append(keys, k)
		if index != nil {
			index[k] = len(keys) - 1
		} else if len(keys) > 16 {
			index = make(map[string]int, 2*len(keys))
			for i, k := range keys {
				index[k] = i
			}
		}
	}
	return items, keys, index
}

// skip passes over one value without converting it. The bytes come from a
// JSON decoder (the AdmissionReview, or YAML converted to JSON), so it only
// tracks strings and nesting.
func (p *parser) skip() error {
	depth := 0
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '"':
			p.i++
			for p.i < len(p.b) && p.b[p.i] != '"' {
				if p.b[p.i] == '\\' {
					p.i++
				}
				p.i++
			}
			if p.i >= len(p.b) {
				return p.errorf("unterminated string")
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return nil // the end of a scalar, at the parent's closing bracket
			}
			depth--
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return nil
			}
		}
		p.i++
		if depth == 0 && (p.b[p.i-1] == '"' || p.b[p.i-1] == '}' || p.b[p.i-1] == ']') {
			return nil
		}
	}
	if depth > 0 {
		return p.errorf("unterminated value")
	}
	return nil
}

func lookup(keys []string, index map[string]int, k string) (int, bool) {
	if index != nil {
		i, ok := index[k]
		return i, ok
	}
	for i, key := range keys {
		if key == k {
			return i, true
		}
	}
	return 0, false
}

func (p *parser) array(depth int) (*ast.Term, error) {
	p.i++ // [
	var elems []*ast.Term
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return ast.ArrayTerm(), nil
	}
	for {
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		elems = append(elems, v)
		p.space()
		if p.i >= len(p.b) {
			return nil, p.errorf("unterminated array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return ast.ArrayTerm(elems...), nil
		default:
			return nil, p.errorf("expected ',' or ']' in array")
		}
	}
}

// string parses a JSON string. Strings without escapes (nearly all of a
// Kubernetes object) are sliced directly; others go through encoding/json.
func (p *parser) string() (string, error) {
	start := p.i
	p.i++ // opening quote
	escaped := false
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if !escaped {
				s := p.b[start+1 : p.i-1]
				if !utf8.Valid(s) {
					return "", p.errorf("invalid UTF-8 in string")
				}
				return string(s), nil
			}
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				return "", p.errorf("invalid string: %v", err)
			}
			return s, nil
		case c == '\\':
			escaped = true
			p.i += 2
		case c < 0x20:
			return "", p.errorf("control character in string")
		default:
			p.i++
		}
	}
	return "", p.errorf("unterminated string")
}

var errNumber = errors.New("invalid number")

// number validates JSON number syntax and keeps the literal text, as
// json.Number does, so that large integers keep their precision.
func (p *parser) number() (*ast.Term, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.b) {
		return nil, p.errorf("%v", errNumber)
	}
	if p.b[p.i] == '0' {
		p.i++
	} else if !p.digits() {
		return nil, p.errorf("%v", errNumber)
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if !p.digits() {
			return nil, p.errorf("%v", errNumber)
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return nil, p.errorf("%v", errNumber)
		}
	}
	// OPA refuses numbers whose exponent would make arithmetic on them
	// cost non-linear time (1e70000); so does Tollgate, before evaluation.
	n, err := ast.NumberChecked(string(p.b[start:p.i]))
	if err != nil {
		return nil, p.errorf("%v", err)
	}
	return ast.NewTerm(n), nil
}

func (p *parser) digits() bool {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}
