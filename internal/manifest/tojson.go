package manifest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// ToJSON converts a YAML node (a document's content) to JSON as kubectl
// does. kubectl reads manifests with sigs.k8s.io/yaml's YAMLToJSON, which
// is go.yaml.in/yaml/v2, a YAML 1.1 reader: plain yes/no/on/off are
// booleans, merge keys (<<) are applied in document order, and
// timestamps stay strings. The go.yaml.in/yaml/v3 parser reads the text
// (its lines name problems), and the values are resolved here the v2 way,
// so that Tollgate reviews the object the API server will receive
// (FuzzToJSON checks this against sigs.k8s.io/yaml). Mapping keys must be
// unique (see checkKeys), non-finite numbers cannot be JSON and aliases
// may not expand past maxAliasNodes.
func ToJSON(n *yaml.Node) ([]byte, error) {
	c := converter{active: map[*yaml.Node]bool{}}
	v, err := c.value(n)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	v.write(&buf)
	return buf.Bytes(), nil
}

// maxAliasNodes bounds the nodes reached through aliases in one document
// (a "billion laughs" document expands exponentially). yaml.v2 allows
// about 400,000 alias-driven decodes before it fails.
const maxAliasNodes = 1 << 18

// converter holds the state of one conversion: the aliases being
// expanded (an anchor may contain an alias of itself) and the count of
// nodes reached through aliases.
type converter struct {
	active     map[*yaml.Node]bool
	aliasDepth int
	aliasNodes int
}

// value is a converted JSON value: an object, an array, a string or a
// literal (number, boolean, null).
type value interface{ write(*bytes.Buffer) }

// object is a JSON object whose keys keep their first position; a merge
// (<<) or a later key overwrites the value in place.
type object struct {
	keys []string
	vals map[string]value
}

type (
	array   []value
	text    string
	literal string
)

func (o *object) set(k string, v value) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (c *converter) value(n *yaml.Node) (value, error) {
	if c.aliasDepth > 0 {
		c.aliasNodes++
		if c.aliasNodes > maxAliasNodes {
			return nil, lineError(n.Line, "the document expands to more than %d nodes through aliases", maxAliasNodes)
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return literal("null"), nil
		}
		return c.value(n.Content[0])
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, lineError(n.Line, "unknown anchor %q", n.Value)
		}
		if c.active[n.Alias] {
			return nil, lineError(n.Line, "anchor %q contains itself", n.Value)
		}
		c.active[n.Alias] = true
		c.aliasDepth++
		v, err := c.value(n.Alias)
		c.aliasDepth--
		delete(c.active, n.Alias)
		return v, err
	case yaml.SequenceNode:
		out := make(array, len(n.Content))
		for i, it := range n.Content {
			v, err := c.value(it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		o := &object{vals: make(map[string]value, len(n.Content)/2)}
		if err := c.mapping(n, o); err != nil {
			return nil, err
		}
		return o, nil
	case yaml.ScalarNode:
		s, err := resolveScalar(n)
		if err != nil {
			return nil, err
		}
		return s.json(n)
	}
	return nil, lineError(n.Line, "unexpected YAML node")
}

// mapping sets the keys of n into o in document order, as yaml.v2 decodes
// into a map: a later key or merge overwrites an earlier one.
func (c *converter) mapping(n *yaml.Node, o *object) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			if err := c.merge(v, o); err != nil {
				return err
			}
			continue
		}
		key, err := keyString(k)
		if err != nil {
			return err
		}
		val, err := c.value(v)
		if err != nil {
			return err
		}
		o.set(key, val)
	}
	return nil
}

// merge applies a merge key's value: a mapping, an alias of one, or a
// sequence of those, where earlier mappings take precedence (yaml.v2
// applies them last to first).
func (c *converter) merge(v *yaml.Node, o *object) error {
	wantMap := lineError(v.Line, "a merge key (<<) takes a mapping or a sequence of mappings")
	var srcs []*yaml.Node
	switch v.Kind {
	case yaml.MappingNode, yaml.AliasNode:
		srcs = []*yaml.Node{v}
	case yaml.SequenceNode:
		for i := len(v.Content) - 1; i >= 0; i-- {
			srcs = append(srcs, v.Content[i])
		}
	default:
		return wantMap
	}
	for _, s := range srcs {
		if target := deref(s); target == nil || target.Kind != yaml.MappingNode {
			return wantMap
		}
		m, err := c.value(s)
		if err != nil {
			return err
		}
		src, ok := m.(*object)
		if !ok {
			return wantMap
		}
		for _, k := range src.keys {
			o.set(k, src.vals[k])
		}
	}
	return nil
}

// deref follows an alias to its anchored node.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}

// isMerge reports whether a key is the merge key: a plain untagged or a
// !!merge tagged "<<" (a quoted or otherwise tagged "<<" is an ordinary
// key), as yaml.v2's isMerge.
func isMerge(k *yaml.Node) bool {
	if k.Kind != yaml.ScalarNode || k.Value != "<<" {
		return false
	}
	if k.Style&yaml.TaggedStyle != 0 {
		return k.Tag == "!!merge"
	}
	return k.Style&quotedStyles == 0
}

// keyString is the JSON object key of a mapping key, as sigs.k8s.io/yaml
// converts yaml.v2's keys: strings as they are, integers in decimal,
// floats in their shortest float32 form, booleans as true or false.
func keyString(k *yaml.Node) (string, error) {
	n := deref(k)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", lineError(k.Line, "a mapping key must be a string, a number or a boolean")
	}
	s, err := resolveScalar(n)
	if err != nil {
		return "", err
	}
	switch s.kind {
	case kindString:
		return s.str, nil
	case kindInt:
		return strconv.FormatInt(s.i, 10), nil
	case kindBool:
		return strconv.FormatBool(s.b), nil
	case kindFloat:
		// Formatted as float32, a float64 past its range is +Inf too
		// (sigs.k8s.io/yaml convertToJSONableObject).
		switch k := strconv.FormatFloat(s.f, 'g', -1, 32); k {
		case "+Inf":
			return ".inf", nil
		case "-Inf":
			return "-.inf", nil
		case "NaN":
			return ".nan", nil
		default:
			return k, nil
		}
	}
	return "", lineError(k.Line, "mapping key %s: a key must be a string, a number or a boolean", clip(n.Value, 60))
}

type scalarKind int

const (
	kindNull scalarKind = iota
	kindString
	kindBool
	kindInt
	kindUint
	kindFloat
)

// scalar is a resolved scalar.
type scalar struct {
	kind scalarKind
	str  string
	b    bool
	i    int64
	u    uint64
	f    float64
}

func (s scalar) json(n *yaml.Node) (value, error) {
	switch s.kind {
	case kindNull:
		return literal("null"), nil
	case kindBool:
		return literal(strconv.FormatBool(s.b)), nil
	case kindInt:
		return literal(strconv.FormatInt(s.i, 10)), nil
	case kindUint:
		return literal(strconv.FormatUint(s.u, 10)), nil
	case kindFloat:
		if math.IsInf(s.f, 0) || math.IsNaN(s.f) {
			return nil, lineError(n.Line, "%s is not a number JSON can hold", n.Value)
		}
		// Formatted as encoding/json does, as sigs.k8s.io/yaml marshals.
		b, _ := json.Marshal(s.f)
		return literal(b), nil
	}
	return text(s.str), nil
}

const quotedStyles = yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle

// resolveScalar resolves a scalar node as yaml.v2 does (its resolve.go
// and decoder.scalar): quoted and block scalars are strings, an explicit
// tag must fit the value, and plain scalars follow YAML 1.1.
func resolveScalar(n *yaml.Node) (scalar, error) {
	tag := ""
	if n.Style&yaml.TaggedStyle != 0 {
		tag = n.Tag
	} else if n.Style&quotedStyles != 0 {
		return scalar{kind: kindString, str: n.Value}, nil
	}
	switch tag {
	case "", "!!str", "!!bool", "!!int", "!!float", "!!null", "!!timestamp":
	case "!!binary":
		b, err := base64.StdEncoding.DecodeString(n.Value)
		if err != nil {
			return scalar{}, lineError(n.Line, "!!binary value contains invalid base64 data")
		}
		return scalar{kind: kindString, str: string(b)}, nil
	default:
		// Other tags (!foo, !!map on a scalar) leave the text as it is.
		return scalar{kind: kindString, str: n.Value}, nil
	}
	if tag == "!!str" {
		return scalar{kind: kindString, str: n.Value}, nil
	}
	s, rtag := resolvePlain(n.Value, tag)
	switch {
	case tag == "" || tag == rtag:
		return s, nil
	case tag == "!!float" && rtag == "!!int" && s.kind == kindInt:
		return scalar{kind: kindFloat, f: float64(s.i)}, nil
	}
	return scalar{}, lineError(n.Line, "cannot decode %s %s as a %s", rtag, clip(n.Value, 60), tag)
}

// plainValues are the YAML 1.1 words yaml.v2 resolves (resolve.go).
var plainValues = func() map[string]scalar {
	m := map[string]scalar{}
	for _, w := range []string{"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"} {
		m[w] = scalar{kind: kindBool, b: true}
	}
	for _, w := range []string{"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"} {
		m[w] = scalar{kind: kindBool, b: false}
	}
	for _, w := range []string{"", "~", "null", "Null", "NULL"} {
		m[w] = scalar{kind: kindNull}
	}
	for _, w := range []string{".nan", ".NaN", ".NAN"} {
		m[w] = scalar{kind: kindFloat, f: math.NaN()}
	}
	for _, w := range []string{".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"} {
		m[w] = scalar{kind: kindFloat, f: math.Inf(1)}
	}
	for _, w := range []string{"-.inf", "-.Inf", "-.INF"} {
		m[w] = scalar{kind: kindFloat, f: math.Inf(-1)}
	}
	return m
}()

var yamlStyleFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// resolvePlain resolves a plain scalar's text (or a tagged one's, for
// the tag check) and returns its value and YAML tag.
func resolvePlain(in, tag string) (scalar, string) {
	asText := scalar{kind: kindString, str: in}
	if in == "<<" {
		return asText, "!!merge"
	}
	if s, ok := plainValues[in]; ok {
		return s, tagOf(s.kind)
	}
	switch c := in[0]; {
	case c == '.':
		if f, err := strconv.ParseFloat(in, 64); err == nil {
			return scalar{kind: kindFloat, f: f}, "!!float"
		}
	case c == '+' || c == '-' || (c >= '0' && c <= '9'):
		if tag == "" || tag == "!!timestamp" {
			if isTimestamp(in) {
				// yaml.v2 keeps timestamps as their text in an interface{}.
				return asText, "!!timestamp"
			}
		}
		plain := strings.ReplaceAll(in, "_", "")
		if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return scalar{kind: kindInt, i: i}, "!!int"
		}
		if u, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return scalar{kind: kindUint, u: u}, "!!int"
		}
		if yamlStyleFloat.MatchString(plain) {
			if f, err := strconv.ParseFloat(plain, 64); err == nil {
				return scalar{kind: kindFloat, f: f}, "!!float"
			}
		}
		if rest, ok := strings.CutPrefix(plain, "0b"); ok {
			if i, err := strconv.ParseInt(rest, 2, 64); err == nil {
				return scalar{kind: kindInt, i: i}, "!!int"
			}
			if u, err := strconv.ParseUint(rest, 2, 64); err == nil {
				return scalar{kind: kindUint, u: u}, "!!int"
			}
		} else if rest, ok := strings.CutPrefix(plain, "-0b"); ok {
			if i, err := strconv.ParseInt("-"+rest, 2, 64); err == nil {
				return scalar{kind: kindInt, i: i}, "!!int"
			}
		}
	}
	return asText, "!!str"
}

func tagOf(k scalarKind) string {
	switch k {
	case kindNull:
		return "!!null"
	case kindBool:
		return "!!bool"
	case kindInt, kindUint:
		return "!!int"
	case kindFloat:
		return "!!float"
	}
	return "!!str"
}

// timestampFormats are yaml.v2's (resolve.go allowedTimestampFormats).
var timestampFormats = []string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}

func isTimestamp(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			break
		}
	}
	if i != 4 || i == len(s) || s[i] != '-' {
		return false
	}
	for _, f := range timestampFormats {
		if _, err := time.Parse(f, s); err == nil {
			return true
		}
	}
	return false
}

func (o *object) write(buf *bytes.Buffer) {
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		text(k).write(buf)
		buf.WriteByte(':')
		o.vals[k].write(buf)
	}
	buf.WriteByte('}')
}

func (a array) write(buf *bytes.Buffer) {
	buf.WriteByte('[')
	for i, e := range a {
		if i > 0 {
			buf.WriteByte(',')
		}
		e.write(buf)
	}
	buf.WriteByte(']')
}

func (s text) write(buf *bytes.Buffer) {
	b, _ := json.Marshal(string(s))
	buf.Write(b)
}

func (l literal) write(buf *bytes.Buffer) { buf.WriteString(string(l)) }
