package manifest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `# leading comment
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: ns}
spec: {containers: [{name: c, image: i}]}
---
# only a comment
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: ns}}
- {apiVersion: v1, kind: Service, metadata: {name: svc}}
--- # a comment after the separator
{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": []}}}}
---
---
`
	docs, errs := Parse("f.yaml", []byte(in), true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	type want struct {
		kind, name  string
		index, item int
		line        int
		skipped     bool
	}
	wants := []want{
		{"Pod", "a", 0, -1, 2, false},
		{"Namespace", "ns", 1, 0, 12, false},
		{"Service", "svc", 1, 1, 13, true},
		{"Deployment", "d", 2, -1, 15, false},
	}
	if len(docs) != len(wants) {
		t.Fatalf("got %d documents, want %d", len(docs), len(wants))
	}
	for i, w := range wants {
		d := docs[i]
		got := want{d.Object.GVK.Kind, d.Object.Name, d.Index, d.Item, d.Line, d.Skipped}
		if got != w {
			t.Errorf("document %d: got %+v, want %+v", i, got, w)
		}
	}
	if loc := docs[2].Location(); loc != "f.yaml:13 (document 2, item 2)" {
		t.Errorf("location %q", loc)
	}
}

// TestParseYAML11: values are read as kubectl reads them, so that the
// object reviewed is the object applied: privileged: yes is true.
func TestParseYAML11(t *testing.T) {
	docs, errs := Parse("f.yaml", []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  hostNetwork: yes\n  containers: [{name: c, image: i, securityContext: {privileged: on}}]\n"), true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := docs[0].Object.Pod()
	if !p.Spec.HostNetwork || p.Spec.Containers[0].SecurityContext.Privileged == nil || !*p.Spec.Containers[0].SecurityContext.Privileged {
		t.Errorf("yes and on must read as true: %+v", p.Spec)
	}
}

func TestParseErrors(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
	for _, tc := range []struct {
		name, in, want string
	}{
		{"invalid yaml", "apiVersion: v1\nkind: Pod\nmetadata: [\n", "f.yaml:1 (document 1): line 3: invalid YAML: did not find expected node content"},
		{"invalid yaml in the second document", pod + "---\n# c\nkind: [\n", "f.yaml:5 (document 2): line 6: invalid YAML"},
		{"no apiVersion", "kind: Pod\nmetadata: {name: a}\n", "apiVersion is missing"},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", "kind is missing"},
		{"wrong type", pod + "spec: {containers: [{name: c, ports: [{containerPort: http}]}]}\n", `Pod a: field spec.containers.ports.containerPort: cannot use a JSON string as int32 (at spec.containers[0].ports[0].containerPort, value "http", line 4)`},
		{"wrong type in the second container", pod + "spec:\n  containers:\n  - {name: a, image: i}\n  - name: b\n    image: i\n    securityContext: {privileged: \"yes\"}\n", `Pod a: field spec.containers.securityContext.privileged: cannot use a JSON string as bool (at spec.containers[1].securityContext.privileged, value "yes", line 9)`},
		{"unknown field", pod + "spec: {containerz: []}\n", `unknown field "spec.containerz"`},
		{"scalar", "just text\n", "not an object"},
		{"sequence", "- a\n- b\n", "f.yaml:1 (document 1): not an object"},
		{"second document line", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: Pod\n", "f.yaml:5 (document 2): apiVersion is missing"},
		{"old apiVersion", "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}\n", "apiVersion extensions/v1beta1 is not supported"},

		// Content on the separator line: kubectl refuses the stream, YAML
		// would read a document there, and the old splitter dropped it.
		{"content on the separator", "--- {apiVersion: v1, kind: Pod, metadata: {name: evil}}\n", `f.yaml:1: content on the document separator line ("--- {apiVersion: v1, kind: Pod, metadata: {name: evil}}"): kubectl refuses it`},
		{"content on a later separator", pod + "--- {kind: Pod}\n", "f.yaml:4: content on the document separator line"},
		{"a block scalar on the separator", "--- |\n  text\n", "f.yaml:1: content on the document separator line"},
		{"lines broken by a lone CR", "a: 1\rb: 2\n--- {kind: Pod}\n", "f.yaml:3: content on the document separator line"},
		{"four dashes", pod + "----\n", "f.yaml:4: content on the document separator line"},

		// Duplicate keys name the key and both lines.
		{"duplicate key", pod + "spec:\n  containers: []\n  containers: [{name: c}]\n", `f.yaml:1 (document 1): line 6: duplicate key "containers" (first at line 5)`},
		{"duplicate top-level key", pod + "kind: Service\n", `line 4: duplicate key "kind" (first at line 2)`},
		{"duplicate in flow", "{apiVersion: v1, kind: Pod, metadata: {name: a, name: b}}\n", `line 1: duplicate key "name"`},
		{"duplicate in JSON", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "metadata": {"name": "b"}}`, `duplicate key "metadata"`},
		{"1 and \"1\" are one JSON key", pod[:len(pod)-len("metadata: {name: a}\n")] + "metadata:\n  name: a\n  labels: {1: a, \"1\": b}\n", `line 5: duplicate key "1" (first at line 5)`},
		{"duplicate in a List item", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  kind: Pod\n", `line 6: duplicate key "kind" (first at line 5)`},
		{"duplicate merge keys", "a: &a {x: 1}\nb: {<<: *a, <<: *a}\n", "duplicate merge key <<"},

		// Values a decoder rejects without naming the field.
		{"bad quantity", pod + "spec:\n  containers:\n  - name: c\n    image: i\n    resources: {limits: {cpu: \"1x\"}}\n", `Pod a: field spec.containers[0].resources.limits.cpu: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (value "1x", line 8)`},
		{"bad quantity in a template", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: a, image: i}\n      - name: b\n        resources:\n          requests: {nvidia.com/gpu: 1g}\n", `Deployment d: field spec.template.spec.containers[1].resources.requests["nvidia.com/gpu"]: quantities must match the regular expression`},
		{"bad quantity in a List", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec: {overhead: {memory: 12Zi}}\n", `f.yaml:4 (document 1, item 1): Pod p: field spec.overhead.memory: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (value "12Zi", line 7)`},
		{"bad quantity suffix", pod + "spec:\n  containers:\n  - name: c\n    image: i\n    resources:\n      requests: {cpu: 1}\n      limits: {memory: 1Gi, cpu: 1mi}\n", `f.yaml:1 (document 1): Pod a: field spec.containers[0].resources.limits.cpu: unable to parse quantity's suffix (value "1mi", line 10)`},
		{"bad quantity in an init container", pod + "spec:\n  initContainers:\n  - {name: a, image: i}\n  - {name: b, image: i, resources: {requests: {memory: 1kK}}}\n  containers: [{name: c, image: i}]\n", `field spec.initContainers[1].resources.requests.memory: unable to parse quantity's suffix (value "1kK", line 7)`},
		{"bad time", pod[:len(pod)-len("metadata: {name: a}\n")] + "metadata: {name: a, creationTimestamp: yesterday}\n", `field metadata.creationTimestamp: parsing time "yesterday"`},

		// Lists.
		{"nested List", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items: [{apiVersion: v1, kind: Pod, metadata: {name: x}}]\n", "f.yaml:4 (document 1, item 1): a List inside a List is not read"},
		{"items not a list", "apiVersion: v1\nkind: List\nitems: {a: b}\n", "List: items must be a list of objects"},

		// What JSON cannot hold, and what yaml.v3 and kubectl read apart.
		{"infinity", pod + "spec: {priority: .inf}\n", "line 4: .inf is not a number JSON can hold"},
		{"non-specific tag", pod + "spec: {priority: ! 12}\n", `line 4: the non-specific tag "!" is not read the same by kubectl`},
		{"content after a document end", pod + "...\nkind: Pod\n", "invalid YAML"},
		{"control characters in a name", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: \"d\\nPod x allowed\"}\nspec: {replicas: x}\n", `Deployment "d\nPod x allowed": field`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, errs := Parse("f.yaml", []byte(tc.in), true)
			if len(errs) == 0 {
				t.Fatalf("no error; documents %+v", docs)
			}
			if msg := errs[0].Error(); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
			var me *Error
			if !errors.As(errs[0], &me) {
				t.Errorf("error %T is not a *manifest.Error", errs[0])
			}
		})
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n")
	write("a.json", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}`)
	write("empty.yaml", "")
	write("notes.txt", "ignored")
	write(".hidden/x.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: hidden}\n")
	docs, err := Load([]string{dir, "-"}, Options{Stdin: strings.NewReader("apiVersion: v1\nkind: Pod\nmetadata: {name: stdin}\n")})
	if err != nil {
		t.Fatal(err)
	}
	var names, inputs []string
	for _, d := range docs {
		names = append(names, d.Object.Name)
		inputs = append(inputs, d.Input)
	}
	if got := strings.Join(names, ","); got != "a,b,stdin" {
		t.Errorf("loaded %s, want a,b,stdin", got)
	}
	if got, want := strings.Join(inputs, ","), dir+","+dir+",-"; got != want {
		t.Errorf("inputs %s, want %s", got, want)
	}
	if _, err := Load([]string{filepath.Join(dir, "missing.yaml")}, Options{}); err == nil {
		t.Error("missing file: expected an error")
	}
	// A directory of empty files is not an error for Load, but holds no
	// objects (RequireObjects).
	write("void/a.yaml", "---\n")
	write("void/b.yaml", "# nothing\n")
	void := filepath.Join(dir, "void")
	docs, err = Load([]string{void}, Options{})
	if err != nil || len(docs) != 0 {
		t.Fatalf("got %d documents, %v", len(docs), err)
	}
	if err := RequireObjects([]string{void}, docs); err == nil || err.Error() != "no objects in "+void {
		t.Errorf("RequireObjects: %v", err)
	}
}

// TestRequireObjects: every path given must hold an object, counted per
// path: a pipeline step that printed nothing fails the gate.
func TestRequireObjects(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pod := file("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
	cm := file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
	for _, tc := range []struct {
		name  string
		paths []string
		stdin string
		want  string
	}{
		{"an object", []string{pod}, "", ""},
		{"a kind not reviewed is an object", []string{cm}, "", ""},
		{"empty stdin", []string{"-"}, "", "no objects in - (standard input)"},
		{"stdin of separators", []string{"-"}, "---\n---\n...\n", "no objects in - (standard input)"},
		{"empty file", []string{file("empty.yaml", "")}, "", "no objects in " + filepath.Join(dir, "empty.yaml")},
		{"only comments", []string{file("c.yaml", "# a\n---\n# b\n")}, "", "no objects in " + filepath.Join(dir, "c.yaml")},
		{"an empty List", []string{file("list.yaml", "apiVersion: v1\nkind: List\nitems: []\n")}, "", "no objects in " + filepath.Join(dir, "list.yaml")},
		{"null documents", []string{file("null.yaml", "null\n---\n~\n")}, "", "no objects in " + filepath.Join(dir, "null.yaml")},
		{"each path counts", []string{pod, file("e2.yaml", "\n\n")}, "", "no objects in " + filepath.Join(dir, "e2.yaml")},
		{"the same path twice is named once", []string{"-", "-"}, "", "no objects in - (standard input)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := Load(tc.paths, Options{Stdin: strings.NewReader(tc.stdin), Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			err = RequireObjects(tc.paths, docs)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("error %v, want %q", err, tc.want)
			case tc.want != "" && !errors.Is(err, ErrNoObjects):
				t.Errorf("error %v is not ErrNoObjects", err)
			}
		})
	}
}

func TestLocation(t *testing.T) {
	for _, tc := range []struct {
		d    Document
		want string
	}{
		{Document{Source: "f.yaml", Index: 0, Item: -1, Line: 3}, "f.yaml:3 (document 1)"},
		{Document{Source: "f.yaml", Index: 1, Item: 4, Line: 9}, "f.yaml:9 (document 2, item 5)"},
		{Document{Source: "suite.yaml", Index: -1, Item: -1, Line: 12}, "suite.yaml:12"},
		{Document{Source: "suite.yaml", Index: -1, Item: 0, Line: 12}, "suite.yaml:12 (item 1)"},
		{Document{Source: "a\nb.yaml", Index: 0, Item: -1, Line: 1}, `"a\nb.yaml":1 (document 1)`},
	} {
		if got := tc.d.Location(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\n---\nkind: List\napiVersion: v1\nitems: []\n"))
	f.Add([]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}}`))
	f.Add([]byte("---\n...\n---\n"))
	f.Add([]byte("--- {apiVersion: v1, kind: Pod, metadata: {name: evil}}\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n- {apiVersion: v1, kind: List, items: []}\n"))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a, name: b}\n"))
	f.Add([]byte("b: &b {apiVersion: v1, kind: Pod}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: m}\nspec: {containers: [{name: c, resources: {limits: {cpu: 1x}}}]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, errs := Parse("fuzz.yaml", b, true)
		lines := yamlLineCount(b)
		for _, d := range docs {
			if d.Object == nil || d.Line < 1 || d.Line > lines {
				t.Fatalf("bad document %+v (input of %d lines)", d, lines)
			}
		}
		for _, e := range errs {
			var me *Error
			if !errors.As(e, &me) || !strings.HasPrefix(e.Error(), "fuzz.yaml:") {
				t.Fatalf("error without location: %v", e)
			}
			if me.Line < 1 || me.Line > lines {
				t.Fatalf("error line %d outside the input's %d lines: %v", me.Line, lines, e)
			}
			var le *LineError
			if errors.As(e, &le) && (le.Line < 1 || le.Line > lines) {
				t.Fatalf("problem line %d outside the input's %d lines: %v", le.Line, lines, e)
			}
		}
		// Content on a separator line is refused, never dropped.
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, "---"); ok {
				if r := strings.TrimSpace(rest); r != "" && r[0] != '#' && len(errs) == 0 {
					t.Fatalf("content on a separator line (%q) read without error", l)
				}
			}
		}
		// No document dropped: each one the decoder yields is returned as
		// objects, or named by an error, or is an empty List.
		returned := map[int]bool{}
		for _, d := range docs {
			returned[d.Index] = true
		}
		for _, e := range errs {
			var me *Error
			if errors.As(e, &me) {
				returned[me.Index] = true
			}
		}
		dec := NewDecoder("fuzz.yaml", b)
		for {
			raw, err := dec.Next()
			if err != nil {
				if len(errs) == 0 && !errors.Is(err, io.EOF) {
					t.Fatalf("the decoder fails (%v) but Parse did not", err)
				}
				break
			}
			if raw.Line < 1 || raw.Line > lines {
				t.Fatalf("document line %d outside the input's %d lines", raw.Line, lines)
			}
			if returned[raw.Index] {
				continue
			}
			j, err := ToJSON(raw.Node)
			if err != nil {
				t.Fatalf("document %d: not returned, no error, and ToJSON fails: %v", raw.Index+1, err)
			}
			if items, ok, _ := listItems(j); !ok || len(items) > 0 {
				t.Fatalf("document %d at line %d dropped: %s", raw.Index+1, raw.Line, j)
			}
		}
	})
}

// yamlLineCount counts lines as the YAML parser does: "\r\n", "\n", "\r",
// NEL, LS and PS end a line.
func yamlLineCount(b []byte) int {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	n := 1
	for _, r := range s {
		switch r {
		case '\n', '\r', '\u0085', '\u2028', '\u2029':
			n++
		}
	}
	return n
}

// BenchmarkParse reads a rendered chart of 500 documents (a Deployment of
// a GPU inference server each, with comments and empty documents between
// them) as eval and audit do.
func BenchmarkParse(b *testing.B) {
	doc, err := os.ReadFile("../../examples/vllm-deployment.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var in strings.Builder
	for i := range 500 {
		fmt.Fprintf(&in, "---\n# Source: chart/templates/disabled-%d.yaml\n---\n# Source: chart/templates/deployment-%d.yaml\n", i, i)
		in.Write(doc)
	}
	data := []byte(in.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		docs, errs := Parse("rendered.yaml", data, true)
		if len(errs) > 0 || len(docs) < 500 {
			b.Fatalf("%d documents, errors %v", len(docs), errs)
		}
	}
}
