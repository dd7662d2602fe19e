// Package manifest loads Kubernetes manifests for eval, audit and test: files,
// directories (recursively), and standard input; multi-document YAML, JSON,
// and kind: List. Errors name the file, the document and its line, and
// nothing is returned unless every document loaded.
package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// Document is one object and where it came from.
type Document struct {
	// Source is the file path, or "-" for standard input.
	Source string
	// Index is the 0-based document index in the file.
	Index int
	// Item is the 0-based item index inside a kind: List, or -1.
	Item int
	// Line is the 1-based line where the document starts.
	Line int
	// Object is the decoded object. For kinds Tollgate does not review,
	// Object.Typed and Object.Map are nil and Skipped is set.
	Object  *kubeobjects.Object
	Skipped bool
}

// Location names the document in messages: "file.yaml:12 (document 2)".
func (d Document) Location() string {
	s := fmt.Sprintf("%s:%d (document %d", d.Source, d.Line, d.Index+1)
	if d.Item >= 0 {
		s += fmt.Sprintf(", item %d", d.Item+1)
	}
	return s + ")"
}

// Error is a document that could not be loaded.
type Error struct {
	Source string
	Index  int
	Item   int
	Line   int
	Err    error
}

func (e *Error) Error() string {
	loc := Document{Source: e.Source, Index: e.Index, Item: e.Item, Line: e.Line}.Location()
	return fmt.Sprintf("%s: %v", loc, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Options tune loading.
type Options struct {
	// Stdin is read for the path "-".
	Stdin io.Reader
	// Strict makes unknown and duplicate fields errors, as kubectl's
	// default field validation does.
	Strict bool
}

// extensions are the files a directory walk picks up.
var extensions = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// Load reads every path. Directories are walked recursively for .yaml,
// .yml and .json files in lexical order, skipping hidden entries. All
// errors are returned together; documents are returned only when there
// are none.
func Load(paths []string, opts Options) ([]Document, error) {
	var docs []Document
	var errs []error
	for _, p := range paths {
		if p == "-" {
			if opts.Stdin == nil {
				errs = append(errs, errors.New("-: no standard input"))
				continue
			}
			b, err := io.ReadAll(opts.Stdin)
			if err != nil {
				errs = append(errs, fmt.Errorf("-: %w", err))
				continue
			}
			d, e := Parse("-", b, opts.Strict)
			docs, errs = append(docs, d...), append(errs, e...)
			continue
		}
		files, err := expand(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			d, e := Parse(f, b, opts.Strict)
			docs, errs = append(docs, d...), append(errs, e...)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return docs, nil
}

func expand(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != p && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && extensions[strings.ToLower(filepath.Ext(path))] {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("%s: no .yaml, .yml or .json files", p)
	}
	return files, err
}

// separator matches a YAML document separator line.
var separator = regexp.MustCompile(`^---(\s.*)?$`)

// chunk is one document's text and its first line.
type chunk struct {
	text []byte
	line int
}

func split(b []byte) []chunk {
	var chunks []chunk
	var cur bytes.Buffer
	start := 1
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), len(b)+1)
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if separator.MatchString(t) || t == "..." {
			chunks = append(chunks, chunk{text: bytes.Clone(cur.Bytes()), line: start})
			cur.Reset()
			start = line + 1
			continue
		}
		cur.WriteString(t)
		cur.WriteByte('\n')
	}
	chunks = append(chunks, chunk{text: cur.Bytes(), line: start})
	return chunks
}

// yamlLine finds "line N" in a YAML parser error.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// Parse splits and decodes one file's content.
func Parse(source string, b []byte, strict bool) ([]Document, []error) {
	var docs []Document
	var errs []error
	index := 0
	for _, c := range split(b) {
		if isBlank(c.text) {
			continue
		}
		fail := func(item int, err error) {
			errs = append(errs, &Error{Source: source, Index: index, Item: item, Line: c.line, Err: err})
		}
		raw, err := yaml.YAMLToJSON(c.text)
		if err != nil {
			// Report the absolute line of a YAML syntax error.
			msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
				n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
				return fmt.Sprintf("line %d", n+c.line-1)
			})
			fail(-1, fmt.Errorf("invalid YAML: %s", msg))
			index++
			continue
		}
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			index++
			continue
		}
		if raw[0] != '{' {
			fail(-1, errors.New("not an object (a Kubernetes manifest is a mapping with apiVersion and kind)"))
			index++
			continue
		}
		if items, ok, err := listItems(raw); err != nil {
			fail(-1, err)
		} else if ok {
			for i, item := range items {
				d, err := decode(source, index, i, c.line, item, strict)
				if err != nil {
					fail(i, err)
					continue
				}
				docs = append(docs, d)
			}
		} else {
			d, err := decode(source, index, -1, c.line, raw, strict)
			if err != nil {
				fail(-1, err)
			} else {
				docs = append(docs, d)
			}
		}
		index++
	}
	return docs, errs
}

func decode(source string, index, item, line int, raw []byte, strict bool) (Document, error) {
	d := Document{Source: source, Index: index, Item: item, Line: line}
	o, err := kubeobjects.Decode(raw, strict)
	if errors.Is(err, kubeobjects.ErrUnknownKind) {
		d.Object, d.Skipped = o, true
		return d, nil
	}
	if err != nil {
		if o != nil && o.Name != "" {
			return d, fmt.Errorf("%s %s: %w", o.GVK.Kind, o.Name, err)
		}
		return d, err
	}
	d.Object = o
	return d, nil
}

// listItems returns the items of a kind: List (v1 List or any *List kind
// whose items are objects).
func listItems(raw []byte) ([][]byte, bool, error) {
	var head struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || !strings.HasSuffix(head.Kind, "List") {
		return nil, false, nil
	}
	out := make([][]byte, len(head.Items))
	for i, it := range head.Items {
		out[i] = it
	}
	return out, true, nil
}

func isBlank(b []byte) bool {
	for _, line := range bytes.Split(b, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' {
			return false
		}
	}
	return true
}
