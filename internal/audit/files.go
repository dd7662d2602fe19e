package audit

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// Files is a source of manifest documents, loaded by internal/manifest as
// eval loads them. Findings carry the file and the line of the field they
// name (or of the document), for SARIF annotations.
type Files struct {
	Docs []manifest.Document
	// ChunkSize is how many documents are reviewed at a time (default 500).
	ChunkSize int

	mu    sync.Mutex
	files map[string][]*yaml.Node
}

// Each implements Source.
func (f *Files) Each(ctx context.Context, fn func(*Chunk) error) error {
	size := f.ChunkSize
	if size <= 0 {
		size = defaultChunkSize
	}
	for start := 0; start < len(f.Docs); start += size {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+size, len(f.Docs))
		c := &Chunk{Kind: "manifests", Remaining: len(f.Docs) - end}
		for _, d := range f.Docs[start:end] {
			it := Item{Object: d.Object, Source: &Location{File: d.Source, Line: d.Line}}
			if d.Skipped || review.TargetOf(d.Object) == "" {
				it.NotReviewed = true
			} else {
				it.Locate = f.locator(d)
			}
			c.Items = append(c.Items, it)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// defaultChunkSize is how many objects a list request or a review batch
// holds.
const defaultChunkSize = 500

// locator returns a function that finds the line of a field path in a
// document; the file is read again and parsed on first use.
func (f *Files) locator(d manifest.Document) func(string) int {
	var once sync.Once
	var root *yaml.Node
	return func(path string) int {
		once.Do(func() { root = f.node(d) })
		if root == nil {
			return 0
		}
		return lineOf(root, path)
	}
}

// node returns the document's node (the item's, in a kind: List), read
// with the decoder that loaded it, so that its lines are the file's.
// Standard input cannot be read again: its findings keep the document's
// line.
func (f *Files) node(d manifest.Document) *yaml.Node {
	if d.Source == "-" || d.Index < 0 {
		return nil
	}
	nodes := f.documents(d.Source)
	if d.Index >= len(nodes) {
		return nil
	}
	root := nodes[d.Index]
	if d.Item >= 0 {
		items := mapValue(root, "items")
		if items == nil || items.Kind != yaml.SequenceNode || d.Item >= len(items.Content) {
			return nil
		}
		root = items.Content[d.Item]
	}
	if root.Kind == yaml.AliasNode {
		root = root.Alias
	}
	return root
}

// documents returns the nodes of a file's non-empty documents, parsed
// once per file.
func (f *Files) documents(file string) []*yaml.Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	if nodes, ok := f.files[file]; ok {
		return nodes
	}
	var nodes []*yaml.Node
	if b, err := os.ReadFile(file); err == nil {
		dec := manifest.NewDecoder(file, b)
		for {
			raw, err := dec.Next()
			if err != nil {
				break
			}
			nodes = append(nodes, raw.Node)
		}
	}
	if f.files == nil {
		f.files = map[string][]*yaml.Node{}
	}
	f.files[file] = nodes
	return nodes
}

// lineOf walks a field path (spec.containers[0].securityContext,
// metadata.annotations["tollgate.dev/exempt"]) down a node tree and
// returns the line of the deepest field that exists: a finding about a
// missing field points at its parent.
func lineOf(root *yaml.Node, path string) int {
	line := root.Line
	n := root
	for _, seg := range splitPath(path) {
		var next *yaml.Node
		keyLine := 0
		switch {
		case n.Kind == yaml.SequenceNode && seg.index >= 0:
			if seg.index < len(n.Content) {
				next = n.Content[seg.index]
				keyLine = next.Line
			}
		case n.Kind == yaml.MappingNode && seg.index < 0:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg.key {
					next, keyLine = n.Content[i+1], n.Content[i].Line
					break
				}
			}
		}
		if next == nil {
			break
		}
		n, line = next, keyLine
	}
	return line
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

type pathSegment struct {
	key   string
	index int // -1 for keys
}

// splitPath splits a field path into keys and list indexes.
func splitPath(path string) []pathSegment {
	var out []pathSegment
	for i := 0; i < len(path); {
		switch path[i] {
		case '.':
			i++
		case '[':
			// A quoted key may hold "]": look for the closing quote first.
			end := strings.IndexByte(path[i:], ']')
			if strings.HasPrefix(path[i:], `["`) {
				if q := strings.Index(path[i+2:], `"]`); q >= 0 {
					end = q + 3
				}
			}
			if end < 0 {
				return out
			}
			inner := path[i+1 : i+end]
			if s, err := strconv.Unquote(inner); err == nil {
				out = append(out, pathSegment{key: s, index: -1})
			} else if n, err := strconv.Atoi(inner); err == nil {
				out = append(out, pathSegment{index: n})
			} else {
				out = append(out, pathSegment{key: inner, index: -1})
			}
			i += end + 1
		default:
			end := strings.IndexAny(path[i:], ".[")
			if end < 0 {
				end = len(path) - i
			}
			out = append(out, pathSegment{key: path[i : i+end], index: -1})
			i += end
		}
	}
	return out
}
