// Package policytest runs policy tests for `tollgate test`: the Rego unit
// tests of the embedded and operator bundles (OPA's tester, with coverage),
// and YAML suites (kind PolicyTest) whose cases go through the same review
// path admission uses.
package policytest

import (
	"bytes"
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
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/internal/manifest"
)

// Suite is one PolicyTest file.
type Suite struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	// Config overrides the configuration for this suite (inline, the same
	// keys as the configuration file: actions, pss, exemptions, params...).
	Config map[string]any `yaml:"config"`
	// IAMPolicies is a file (relative to the suite) of the IAM documents of
	// the roles pods assume, the --iam-policies format of eval: the iam
	// rules run offline, without any AWS call.
	IAMPolicies string   `yaml:"iamPolicies"`
	State       []Source `yaml:"state"`
	Cases       []Case   `yaml:"cases"`
	// Now is the time (RFC 3339) the suite's PolicyExceptions are judged
	// at, so that results do not change as time passes; without it, the
	// command's clock (tollgate test --now, else the system clock).
	Now string `yaml:"now"`
	// NowTime is Now parsed; zero when not given.
	NowTime time.Time `yaml:"-"`

	// File is where the suite was read from.
	File string `yaml:"-"`
	// StateDocs are the loaded state objects.
	StateDocs []manifest.Document `yaml:"-"`
}

// Source is a file (relative to the suite) or an inline object.
type Source struct {
	File string `yaml:"file"`
	// Object is read as a manifest is (manifest.ParseNode), with the
	// suite's lines; its Kind is 0 when the key is absent.
	Object yaml.Node `yaml:"object"`
	Line   int       `yaml:"-"`
}

// Case is one object and what its review must give.
type Case struct {
	Name   string    `yaml:"name"`
	File   string    `yaml:"file"`
	Object yaml.Node `yaml:"object"`
	// Operation is CREATE (default) or UPDATE.
	Operation string `yaml:"operation"`
	// User is the requesting user (for exemptions by user or annotation).
	User *struct {
		Username string   `yaml:"username"`
		Groups   []string `yaml:"groups"`
	} `yaml:"user"`
	Expect Expect `yaml:"expect"`

	Line int                `yaml:"-"`
	Doc  *manifest.Document `yaml:"-"`
}

// Expect is what a case checks. Every field is optional.
type Expect struct {
	Allowed *bool `yaml:"allowed"`
	// Violations is the exact set of policy ids.
	Violations *[]string `yaml:"violations"`
	// Includes and Excludes are policy id globs ("pss.*") that must be
	// present or absent.
	Includes []string `yaml:"includes"`
	Excludes []string `yaml:"excludes"`
	// Excepted is the exact set of policy ids a PolicyException excepted.
	Excepted *[]string `yaml:"excepted"`
	// Messages and Warnings are regular expressions; each must match some
	// violation message or admission warning.
	Messages []string `yaml:"messages"`
	Warnings []string `yaml:"warnings"`
	// Mutated is a partial object the mutated object must contain.
	Mutated map[string]any `yaml:"mutated"`
	// Patch is the exact number of JSON patch operations, when set.
	Patch *int `yaml:"patch"`
}

// Error is a malformed suite, with where it is malformed.
type Error struct {
	File string
	Line int
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Find returns the PolicyTest files under the paths (files or directories,
// recursively), in lexical order. Other YAML files are case and state
// files, not suites. A file that names PolicyTest but does not parse is
// an error, not a file to skip.
func Find(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			ext := filepath.Ext(path)
			if d.IsDir() || (ext != ".yaml" && ext != ".yml") {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			ok, err := isSuite(path, b)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// isSuite reports whether a file's first document is a PolicyTest.
func isSuite(file string, b []byte) (bool, error) {
	raw, err := manifest.NewDecoder(file, b).Next()
	if err != nil {
		if !errors.Is(err, io.EOF) && bytes.Contains(b, []byte("PolicyTest")) {
			return false, err
		}
		return false, nil
	}
	return scalarValue(raw.Node, "kind") == "PolicyTest" && strings.HasPrefix(scalarValue(raw.Node, "apiVersion"), "tollgate.dev/"), nil
}

func scalarValue(root *yaml.Node, key string) string {
	if n := child(root, key); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// Load parses and checks a suite, and loads its state and case objects.
// Unknown keys, wrong types and missing files are errors with a line.
func Load(file string) (*Suite, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, &Error{File: file, Err: err}
	}
	fail := func(line int, format string, args ...any) error {
		return &Error{File: file, Line: line, Err: fmt.Errorf(format, args...)}
	}
	// The manifest decoder reads the file as it reads manifests (content
	// on a "---" line, duplicate keys and syntax errors are refused with
	// their line); the suite is its one non-empty document.
	dec := manifest.NewDecoder(file, b)
	doc, err := dec.Next()
	if errors.Is(err, io.EOF) {
		return nil, fail(0, "no suite: the file holds no YAML document")
	}
	if err != nil {
		return nil, manifestError(file, err)
	}
	if extra, err := dec.Next(); err == nil {
		return nil, fail(extra.Line, "a second document: a PolicyTest file holds one suite")
	} else if !errors.Is(err, io.EOF) {
		return nil, manifestError(file, err)
	}
	root := doc.Node
	s, err := decodeSuite(file, dec.Text(), doc.Position)
	if err != nil {
		return nil, err
	}
	s.File = file
	if s.APIVersion != "tollgate.dev/v1alpha1" || s.Kind != "PolicyTest" {
		return nil, fail(1, "apiVersion %q kind %q: want tollgate.dev/v1alpha1 PolicyTest", s.APIVersion, s.Kind)
	}
	if s.Metadata.Name == "" {
		return nil, fail(line(root, "metadata"), "metadata.name is missing")
	}
	if len(s.Cases) == 0 {
		return nil, fail(line(root, "cases"), "no cases")
	}
	if s.Now != "" {
		t, err := time.Parse(time.RFC3339, s.Now)
		if err != nil {
			return nil, fail(line(root, "now"), "now %q: want an RFC 3339 time such as 2026-12-01T00:00:00Z", s.Now)
		}
		s.NowTime = t
	}
	dir := filepath.Dir(file)
	if s.IAMPolicies != "" {
		if !filepath.IsAbs(s.IAMPolicies) {
			s.IAMPolicies = filepath.Join(dir, s.IAMPolicies)
		}
		if _, err := os.Stat(s.IAMPolicies); err != nil {
			return nil, fail(line(root, "iamPolicies"), "iamPolicies: %v", err)
		}
	}
	stateLines := itemLines(root, "state")
	for i := range s.State {
		src := &s.State[i]
		src.Line = at(stateLines, i)
		docs, err := loadSource(file, src.File, &src.Object)
		if err != nil {
			return nil, fail(src.Line, "state[%d]: %v", i, err)
		}
		for _, d := range docs {
			if d.Skipped {
				return nil, fail(src.Line, "state[%d]: %s is not a kind Tollgate reads", i, d.Object.Ref())
			}
		}
		s.StateDocs = append(s.StateDocs, docs...)
	}
	caseLines := itemLines(root, "cases")
	names := map[string]bool{}
	for i := range s.Cases {
		c := &s.Cases[i]
		c.Line = at(caseLines, i)
		if c.Name == "" {
			return nil, fail(c.Line, "cases[%d]: name is missing", i)
		}
		if names[c.Name] {
			return nil, fail(c.Line, "cases[%d]: duplicate case name %q", i, c.Name)
		}
		names[c.Name] = true
		if (c.File == "") != given(&c.Object) {
			return nil, fail(c.Line, "case %q: give exactly one of file and object", c.Name)
		}
		switch c.Operation {
		case "":
			c.Operation = "CREATE"
		case "CREATE", "UPDATE":
		default:
			return nil, fail(c.Line, "case %q: operation %q: want CREATE or UPDATE", c.Name, c.Operation)
		}
		docs, err := loadSource(file, c.File, &c.Object)
		if err != nil {
			return nil, fail(c.Line, "case %q: %v", c.Name, err)
		}
		if len(docs) != 1 {
			return nil, fail(c.Line, "case %q: %d objects; a case reviews exactly one", c.Name, len(docs))
		}
		if docs[0].Skipped {
			return nil, fail(c.Line, "case %q: %s is not a kind Tollgate reviews", c.Name, docs[0].Object.Ref())
		}
		c.Doc = &docs[0]
		if err := c.Expect.check(); err != nil {
			return nil, fail(c.Line, "case %q: expect: %v", c.Name, err)
		}
	}
	return s, nil
}

// decodeSuite decodes the document at position (empty documents before
// it included) into a Suite, refusing unknown keys.
func decodeSuite(file string, b []byte, position int) (*Suite, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	for i := 0; ; i++ {
		var s Suite
		if err := dec.Decode(&s); err != nil {
			return nil, decodeError(file, err)
		}
		if i == position {
			return &s, nil
		}
	}
}

// manifestError turns a manifest decoder error into a suite error with
// the line of the problem.
func manifestError(file string, err error) error {
	var le *manifest.LineError
	if errors.As(err, &le) {
		return &Error{File: file, Line: le.Line, Err: le.Err}
	}
	var me *manifest.Error
	if errors.As(err, &me) {
		return &Error{File: file, Line: me.Line, Err: me.Err}
	}
	return &Error{File: file, Err: err}
}

func (e *Expect) check() error {
	for _, g := range append(append([]string{}, e.Includes...), e.Excludes...) {
		if _, err := filepath.Match(g, ""); err != nil {
			return fmt.Errorf("glob %q: %w", g, err)
		}
	}
	for _, re := range append(append([]string{}, e.Messages...), e.Warnings...) {
		if _, err := compile(re); err != nil {
			return err
		}
	}
	return nil
}

// loadSource reads a file relative to the suite, or an inline object;
// either must hold objects.
func loadSource(suite, file string, obj *yaml.Node) ([]manifest.Document, error) {
	if file != "" {
		p := file
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(suite), p)
		}
		docs, err := manifest.Load([]string{p}, manifest.Options{Strict: true})
		if err != nil {
			return nil, err
		}
		return docs, manifest.RequireObjects([]string{p}, docs)
	}
	if !given(obj) {
		return nil, errors.New("give file or object")
	}
	docs, errs := manifest.ParseNode(suite, obj, true)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%w in the inline object", manifest.ErrNoObjects)
	}
	return docs, nil
}

// given reports whether an object key was given a value (not absent, not
// null).
func given(n *yaml.Node) bool {
	return n.Kind != 0 && (n.Kind != yaml.ScalarNode || n.Tag != "!!null")
}

// typeErrLine matches the "line N: message" entries of a YAML type error.
var typeErrLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// decodeError names the line of the first decoding problem.
func decodeError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		if m := typeErrLine.FindStringSubmatch(te.Errors[0]); m != nil {
			n, _ := strconv.Atoi(m[1])
			msg := m[2]
			if len(te.Errors) > 1 {
				msg += fmt.Sprintf(" (and %d more)", len(te.Errors)-1)
			}
			return &Error{File: file, Line: n, Err: errors.New(msg)}
		}
	}
	return &Error{File: file, Err: err}
}

// line returns the line of a top-level key.
func line(root *yaml.Node, key string) int {
	if n := child(root, key); n != nil {
		return n.Line
	}
	return 0
}

func child(root *yaml.Node, key string) *yaml.Node {
	m := root
	if m.Kind == yaml.DocumentNode && len(m.Content) > 0 {
		m = m.Content[0]
	}
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// itemLines returns the line of each item of a top-level sequence.
func itemLines(root *yaml.Node, key string) []int {
	n := child(root, key)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]int, len(n.Content))
	for i, it := range n.Content {
		out[i] = it.Line
	}
	return out
}

func at(lines []int, i int) int {
	if i < len(lines) {
		return lines[i]
	}
	return 0
}
