package engine

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Source is a tree of Rego modules and data.json files: the embedded bundle or
// an operator's bundle directory.
type Source struct {
	// Name identifies the source in messages ("embedded", or the directory).
	Name string
	FS   fs.FS
	// Builtin marks the embedded bundle, whose layout is checked strictly:
	// <family>/<name>.rego holds package tollgate.<family>.<name>.
	Builtin bool
}

// Files is the parsed content of one or more sources.
type Files struct {
	Modules map[string]*ast.Module // production modules by file name
	Tests   map[string]*ast.Module // *_test.rego modules by file name
	Data    map[string]any         // merged data.json documents
	// builtinFiles names the files that came from a builtin source.
	builtinFiles map[string]bool
}

// IsTestFile reports whether a Rego file holds unit tests rather than policy.
func IsTestFile(name string) bool { return strings.HasSuffix(name, "_test.rego") }

// Load parses every source. Parse errors name the file, line and column.
func Load(sources ...Source) (*Files, error) {
	f := &Files{
		Modules:      map[string]*ast.Module{},
		Tests:        map[string]*ast.Module{},
		Data:         map[string]any{},
		builtinFiles: map[string]bool{},
	}
	for _, src := range sources {
		if err := f.add(src); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *Files) add(src Source) error {
	var names []string
	err := fs.WalkDir(src.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// Hidden directories (such as the ..data links of a mounted
			// ConfigMap) hold copies of the visible files.
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".rego") || path.Base(p) == "data.json" {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading %s bundle: %w", src.Name, err)
	}
	sort.Strings(names)
	for _, p := range names {
		b, err := fs.ReadFile(src.FS, p)
		if err != nil {
			return fmt.Errorf("reading %s bundle: %w", src.Name, err)
		}
		name := p
		if !src.Builtin {
			name = path.Join(src.Name, p)
		}
		if path.Base(p) == "data.json" {
			if err := f.addData(name, path.Dir(p), b); err != nil {
				return err
			}
			continue
		}
		if _, dup := f.Modules[name]; dup {
			return fmt.Errorf("%s: loaded twice", name)
		}
		m, err := ast.ParseModuleWithOpts(name, string(b), ast.ParserOptions{
			ProcessAnnotation: true,
			RegoVersion:       ast.RegoV1,
		})
		if err != nil {
			return err
		}
		if IsTestFile(p) {
			f.Tests[name] = m
		} else {
			f.Modules[name] = m
			f.builtinFiles[name] = src.Builtin
		}
	}
	return nil
}

// addData merges a data.json document at the data path of its directory.
func (f *Files) addData(name, dir string, b []byte) error {
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	node := f.Data
	if dir != "." {
		for _, seg := range strings.Split(dir, "/") {
			next, ok := node[seg].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[seg] = next
			}
			node = next
		}
	}
	if err := MergeInto(node, doc); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// MergeInto deep-merges src into dst: objects merge key by key, anything else
// in src replaces what dst had.
func MergeInto(dst, src map[string]any) error {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				if err := MergeInto(dv, sv); err != nil {
					return err
				}
				continue
			}
		}
		dst[k] = v
	}
	return nil
}
