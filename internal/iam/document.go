package iam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Document is a parsed IAM policy document. Every element that IAM accepts
// as a string or a list of strings is a list here, so that policies read one
// shape: Action, NotAction, Resource and NotResource are always present
// (possibly empty), Condition values are lists of strings.
type Document struct {
	Version   string      `json:"Version,omitempty"`
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Document.
type Statement struct {
	Sid    string `json:"Sid,omitempty"`
	Effect string `json:"Effect"`
	// Principal and NotPrincipal appear in trust and resource policies;
	// "*" is read as {"AWS": ["*"]}, as IAM reads it.
	Principal    map[string][]string `json:"Principal,omitempty"`
	NotPrincipal map[string][]string `json:"NotPrincipal,omitempty"`
	Action       []string            `json:"Action"`
	NotAction    []string            `json:"NotAction"`
	Resource     []string            `json:"Resource"`
	NotResource  []string            `json:"NotResource"`
	// Condition maps an operator (StringEquals, ForAnyValue:StringLike, ...)
	// to condition keys and their values, booleans and numbers written as
	// strings.
	Condition map[string]map[string][]string `json:"Condition"`
}

// ParseDocument decodes a policy document as IAM returns or accepts it:
// JSON, or JSON URL-encoded (RFC 3986) as the IAM API returns documents.
// Errors name the element at fault, e.g. "Statement[1].Action".
func ParseDocument(s string) (*Document, error) {
	if len(s) > MaxDocumentBytes {
		return nil, errTooLarge(len(s))
	}
	text := strings.TrimSpace(s)
	if strings.HasPrefix(text, "%") {
		// PathUnescape, not QueryUnescape: IAM encodes spaces as %20 and a
		// literal + stays a +.
		u, err := url.PathUnescape(text)
		if err != nil {
			return nil, fmt.Errorf("URL-encoded policy document: %w", err)
		}
		text = strings.TrimSpace(u)
	}
	if text == "" {
		return nil, errors.New("policy document is empty")
	}
	return parseJSON([]byte(text))
}

// ParseDocumentJSON decodes a document given as JSON: an object, or a
// string holding the document (possibly URL-encoded).
func ParseDocumentJSON(raw json.RawMessage) (*Document, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return ParseDocument(s)
	}
	return parseJSON(raw)
}

// MaxDocumentBytes bounds a policy document. IAM stores at most 10,240
// characters of inline policy per role and 6,144 per managed policy
// version; a document many times larger (an ACK object can carry one) is
// not one IAM would accept, and is refused before it is decoded.
const MaxDocumentBytes = 128 << 10

func errTooLarge(n int) error {
	return fmt.Errorf("policy document is %d bytes, more than the %d Tollgate reads (IAM stores at most 10,240 characters per role)", n, MaxDocumentBytes)
}

func parseJSON(b []byte) (*Document, error) {
	if len(b) > MaxDocumentBytes {
		return nil, errTooLarge(len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("policy document is not JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("policy document: unexpected data after the JSON object")
	}
	obj, ok := top.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("policy document: want a JSON object, got %s", kindOf(top))
	}
	d := &Document{Statement: []Statement{}}
	var errs []error
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		switch k {
		case "Version":
			s, ok := v.(string)
			if !ok || (s != "2012-10-17" && s != "2008-10-17") {
				errs = append(errs, fmt.Errorf("Version: want \"2012-10-17\" or \"2008-10-17\", got %s", show(v)))
			}
			d.Version = s
		case "Id":
			s, ok := v.(string)
			if !ok {
				errs = append(errs, fmt.Errorf("Id: want a string, got %s", kindOf(v)))
			}
			d.ID = s
		case "Statement":
			switch st := v.(type) {
			case map[string]any:
				s, err := parseStatement("Statement", st)
				errs = append(errs, err)
				d.Statement = append(d.Statement, s)
			case []any:
				for i, e := range st {
					path := fmt.Sprintf("Statement[%d]", i)
					m, ok := e.(map[string]any)
					if !ok {
						errs = append(errs, fmt.Errorf("%s: want an object, got %s", path, kindOf(e)))
						continue
					}
					s, err := parseStatement(path, m)
					errs = append(errs, err)
					d.Statement = append(d.Statement, s)
				}
			default:
				errs = append(errs, fmt.Errorf("Statement: want an object or a list of objects, got %s", kindOf(v)))
			}
		default:
			errs = append(errs, fmt.Errorf("unknown element %q (want Version, Id, Statement)", k))
		}
	}
	if _, ok := obj["Statement"]; !ok {
		errs = append(errs, errors.New("Statement is missing"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

func parseStatement(path string, m map[string]any) (Statement, error) {
	s := Statement{Action: []string{}, NotAction: []string{}, Resource: []string{}, NotResource: []string{}, Condition: map[string]map[string][]string{}}
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, field, fmt.Sprintf(format, args...)))
	}
	list := func(field string, v any) []string {
		l, err := stringList(v)
		if err != nil {
			fail(field, "%v", err)
		}
		return l
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "Sid":
			str, ok := v.(string)
			if !ok {
				fail(k, "want a string, got %s", kindOf(v))
			}
			s.Sid = str
		case "Effect":
			str, _ := v.(string)
			if str != "Allow" && str != "Deny" {
				fail(k, "want \"Allow\" or \"Deny\", got %s", show(v))
			}
			s.Effect = str
		case "Action":
			s.Action = list(k, v)
		case "NotAction":
			s.NotAction = list(k, v)
		case "Resource":
			s.Resource = list(k, v)
		case "NotResource":
			s.NotResource = list(k, v)
		case "Principal", "NotPrincipal":
			p, err := principal(v)
			if err != nil {
				fail(k, "%v", err)
			}
			if k == "Principal" {
				s.Principal = p
			} else {
				s.NotPrincipal = p
			}
		case "Condition":
			c, err := condition(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.Condition%w", path, err))
			}
			s.Condition = c
		default:
			errs = append(errs, fmt.Errorf("%s: unknown element %q", path, k))
		}
	}
	_, hasAction := m["Action"]
	_, hasNotAction := m["NotAction"]
	switch {
	case hasAction && hasNotAction:
		errs = append(errs, fmt.Errorf("%s: Action and NotAction are both set (a statement takes one)", path))
	case !hasAction && !hasNotAction:
		errs = append(errs, fmt.Errorf("%s: Action or NotAction is missing", path))
	}
	if _, ok := m["Effect"]; !ok {
		errs = append(errs, fmt.Errorf("%s: Effect is missing", path))
	}
	_, hasResource := m["Resource"]
	_, hasNotResource := m["NotResource"]
	if hasResource && hasNotResource {
		errs = append(errs, fmt.Errorf("%s: Resource and NotResource are both set (a statement takes one)", path))
	}
	return s, errors.Join(errs...)
}

// stringList reads an element IAM accepts as a string or a list of strings.
func stringList(v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("[%d]: want a string, got %s", i, kindOf(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a string or a list of strings, got %s", kindOf(v))
}

func principal(v any) (map[string][]string, error) {
	switch x := v.(type) {
	case string:
		if x != "*" {
			return nil, fmt.Errorf(`want "*" or an object, got %q`, x)
		}
		return map[string][]string{"AWS": {"*"}}, nil
	case map[string]any:
		out := make(map[string][]string, len(x))
		for _, k := range sortedKeys(x) {
			l, err := stringList(x[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = l
		}
		return out, nil
	}
	return nil, fmt.Errorf(`want "*" or an object, got %s`, kindOf(v))
}

// condition reads {operator: {key: value or [values]}}; values may be
// strings, booleans or numbers. The error starts with the path below
// Condition (".StringEquals.aws:SourceVpc: ...").
func condition(v any) (map[string]map[string][]string, error) {
	ops, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf(": want an object, got %s", kindOf(v))
	}
	out := make(map[string]map[string][]string, len(ops))
	for _, op := range sortedKeys(ops) {
		keys, ok := ops[op].(map[string]any)
		if !ok {
			return nil, fmt.Errorf(".%s: want an object of condition keys, got %s", op, kindOf(ops[op]))
		}
		m := make(map[string][]string, len(keys))
		for _, k := range sortedKeys(keys) {
			var vals []any
			if l, ok := keys[k].([]any); ok {
				vals = l
			} else {
				vals = []any{keys[k]}
			}
			strs := make([]string, 0, len(vals))
			for _, e := range vals {
				switch x := e.(type) {
				case string:
					strs = append(strs, x)
				case bool:
					strs = append(strs, strconv.FormatBool(x))
				case json.Number:
					strs = append(strs, x.String())
				default:
					return nil, fmt.Errorf(".%s.%s: want strings, booleans or numbers, got %s", op, k, kindOf(e))
				}
			}
			m[k] = strs
		}
		out[op] = m
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return kindOf(v)
}
