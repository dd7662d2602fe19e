package manifest

import (
	"bytes"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// fieldOf finds the field a decoding error is about when the error does
// not say: a value's own UnmarshalJSON (resource.Quantity's "quantities
// must match the regular expression ...", a time's parse error) returns
// its error without the path encoding/json was at. Level by level it
// keeps the half of the fields under which the same error still occurs,
// so it decodes O(depth × log(width)) pruned copies, and only on error.
// It returns the field path (spec.containers[0].resources.limits.cpu)
// and the value's JSON text, or "" when the error is not in one field.
func fieldOf(raw []byte, strict bool, msg string) (path, value string) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var root map[string]any
	if d.Decode(&root) != nil {
		return "", ""
	}
	// apiVersion and kind always stay: they choose the type.
	fails := func(body any) bool {
		doc, _ := body.(map[string]any)
		doc = maps.Clone(doc)
		if doc == nil {
			doc = map[string]any{}
		}
		doc["apiVersion"], doc["kind"] = root["apiVersion"], root["kind"]
		b, err := json.Marshal(doc)
		if err != nil {
			return false
		}
		_, derr := kubeobjects.Decode(b, strict)
		return derr != nil && derr.Error() == msg
	}
	if fails(nil) {
		return "", "" // the error is not in the body
	}
	body := maps.Clone(root)
	delete(body, "apiVersion")
	delete(body, "kind")
	var steps []step
	var cur any = body
	for {
		var keys []string
		n := 0
		switch c := cur.(type) {
		case map[string]any:
			keys = slices.Sorted(maps.Keys(c))
			n = len(keys)
		case []any:
			n = len(c)
		default:
			return finish(steps, c)
		}
		i, ok := narrow(n, func(lo, hi int) bool {
			return fails(prune(body, steps, func(v any) any { return subset(v, keys, lo, hi) }))
		})
		if !ok {
			return finish(steps, nil)
		}
		if c, isMap := cur.(map[string]any); isMap {
			steps = append(steps, step{key: keys[i], index: -1})
			cur = c[keys[i]]
		} else {
			steps = append(steps, step{index: i})
			cur = cur.([]any)[i]
		}
	}
}

// step is a key (index -1) or a list index of a field path.
type step struct {
	key   string
	index int
}

// prune returns v with only the path's field at each level, and sel
// applied to the value at its end.
func prune(v any, path []step, sel func(any) any) any {
	if len(path) == 0 {
		return sel(v)
	}
	switch c := v.(type) {
	case map[string]any:
		k := path[0].key
		return map[string]any{k: prune(c[k], path[1:], sel)}
	case []any:
		return []any{prune(c[path[0].index], path[1:], sel)}
	}
	return v
}

// subset keeps the elements lo..hi of a list, or of a map's sorted keys.
func subset(v any, keys []string, lo, hi int) any {
	switch c := v.(type) {
	case map[string]any:
		out := make(map[string]any, hi-lo)
		for _, k := range keys[lo:hi] {
			out[k] = c[k]
		}
		return out
	case []any:
		return c[lo:hi]
	}
	return v
}

// narrow finds an element of [0, n) that fails on its own: it halves the
// range, keeping the half that still fails (the first when both do).
func narrow(n int, fails func(lo, hi int) bool) (int, bool) {
	lo, hi := 0, n
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if fails(lo, mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	if hi-lo != 1 || !fails(lo, hi) {
		return 0, false
	}
	return lo, true
}

func finish(path []step, leaf any) (string, string) {
	var b strings.Builder
	for _, s := range path {
		switch {
		case s.index >= 0:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case plainKey.MatchString(s.key):
			b.WriteString("." + s.key)
		default:
			b.WriteString("[" + strconv.Quote(s.key) + "]")
		}
	}
	p := strings.TrimPrefix(b.String(), ".")
	if p == "" || leaf == nil {
		return p, ""
	}
	v, err := json.Marshal(leaf)
	if err != nil {
		return p, ""
	}
	return p, shorten(string(v), 60)
}

// plainKey is a key written .key in a field path; others are ["key"].
var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// lineOfPath returns the line of a field path (as fieldOf writes it) in a
// document's node tree, or 0.
func lineOfPath(n *yaml.Node, path string) int {
	for rest := path; rest != "" && n != nil; {
		n = deref(n)
		if n == nil {
			return 0
		}
		var seg string
		index := -1
		switch {
		case strings.HasPrefix(rest, "["):
			end := strings.Index(rest, "]")
			if strings.HasPrefix(rest, `["`) {
				// A quoted key may hold "]": its end is the closing quote.
				q := 2
				for q < len(rest) && rest[q] != '"' {
					if rest[q] == '\\' {
						q++
					}
					q++
				}
				end = q + 1
			}
			if end < 0 || end >= len(rest) {
				return 0
			}
			inner := rest[1:end]
			rest = rest[end+1:]
			if s, err := strconv.Unquote(inner); err == nil {
				seg = s
			} else if i, err := strconv.Atoi(inner); err == nil {
				index = i
			} else {
				return 0
			}
		default:
			rest = strings.TrimPrefix(rest, ".")
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			seg, rest = rest[:end], rest[end:]
		}
		var next *yaml.Node
		switch {
		case index >= 0 && n.Kind == yaml.SequenceNode && index < len(n.Content):
			next = n.Content[index]
		case index < 0 && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k, err := keyString(n.Content[i]); err == nil && k == seg {
					next = n.Content[i+1]
					if rest == "" {
						return n.Content[i].Line
					}
					break
				}
			}
		}
		if next == nil {
			return 0
		}
		n = next
	}
	if n == nil {
		return 0
	}
	return n.Line
}
