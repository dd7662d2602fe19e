// Package manifest loads Kubernetes manifests for eval, audit and test: files,
// directories (recursively), and standard input; multi-document YAML, JSON,
// and kind: List. It reads them as kubectl does (see Decoder and ToJSON),
// and refuses what kubectl refuses or what readers disagree about (content
// on a "---" line, duplicate keys). Errors name the file, the document and
// its line, and nothing is returned unless every document loaded.
package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// Document is one object and where it came from.
type Document struct {
	// Source is the file path, or "-" for standard input.
	Source string
	// Input is the path given to Load that Source was found under: the
	// file itself, the directory walked, or "-".
	Input string
	// Index is the 0-based index of the document among the file's
	// non-empty documents, or -1 for an object that is not a document of
	// a stream (ParseNode).
	Index int
	// Item is the 0-based item index inside a kind: List, or -1.
	Item int
	// Line is the 1-based line where the object starts (its first key,
	// or its opening brace).
	Line int
	// Object is the decoded object. For kinds Tollgate does not review,
	// Object.Typed and Object.Map are nil and Skipped is set.
	Object  *kubeobjects.Object
	Skipped bool
}

// Location names the document in messages: "file.yaml:12 (document 2)".
func (d Document) Location() string {
	s := fmt.Sprintf("%s:%d", printable(d.Source), d.Line)
	switch {
	case d.Index >= 0 && d.Item >= 0:
		s += fmt.Sprintf(" (document %d, item %d)", d.Index+1, d.Item+1)
	case d.Index >= 0:
		s += fmt.Sprintf(" (document %d)", d.Index+1)
	case d.Item >= 0:
		s += fmt.Sprintf(" (item %d)", d.Item+1)
	}
	return s
}

// Error is a document that could not be loaded.
type Error struct {
	Source string
	// Index and Item are as in Document; Index is -1 for an error about
	// the stream rather than one document.
	Index int
	Item  int
	// Line is where the document starts; the message names the line of
	// the problem when it is another.
	Line int
	Err  error
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
	// Strict makes unknown fields errors, as kubectl's default field
	// validation does. Duplicate keys are errors either way.
	Strict bool
}

// extensions are the files a directory walk picks up.
var extensions = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// Load reads every path. Directories are walked recursively for .yaml,
// .yml and .json files in lexical order, skipping hidden entries. All
// errors are returned together; documents are returned only when there
// are none. A path that holds no objects is not an error here (state
// files may be empty Lists); see RequireObjects.
func Load(paths []string, opts Options) ([]Document, error) {
	var docs []Document
	var errs []error
	add := func(input, source string, b []byte) {
		d, e := Parse(source, b, opts.Strict)
		for i := range d {
			d[i].Input = input
		}
		docs, errs = append(docs, d...), append(errs, e...)
	}
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
			add(p, p, b)
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
			add(p, f, b)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return docs, nil
}

// ErrNoObjects is a path given to read manifests from that holds none.
var ErrNoObjects = errors.New("no objects")

// RequireObjects returns an error (ErrNoObjects) for each of paths that
// none of docs came from (Document.Input): an empty file or standard
// input, one of only separators or comments, an empty List, a directory
// whose files hold nothing. Each path counts on its own, so that
// `-f rendered.yaml -f empty.yaml` still fails when the second step of a
// pipeline wrote nothing: `helm template ... | tollgate eval -f -` must
// not pass a CI gate because helm failed.
func RequireObjects(paths []string, docs []Document) error {
	found := map[string]bool{}
	for _, d := range docs {
		found[d.Input] = true
	}
	var errs []error
	seen := map[string]bool{}
	for _, p := range paths {
		if found[p] || seen[p] {
			continue
		}
		seen[p] = true
		name := printable(p)
		if p == "-" {
			name = "- (standard input)"
		}
		errs = append(errs, fmt.Errorf("%w in %s", ErrNoObjects, name))
	}
	return errors.Join(errs...)
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
		err = fmt.Errorf("%s: no .yaml, .yml or .json files", printable(p))
	}
	return files, err
}
