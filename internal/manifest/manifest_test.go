package manifest

import (
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
--- # trailing text after the separator
{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": []}}}}
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
		{"Pod", "a", 0, -1, 1, false},
		{"Namespace", "ns", 1, 0, 9, false},
		{"Service", "svc", 1, 1, 9, true},
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
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"invalid yaml", "apiVersion: v1\nkind: Pod\nmetadata: [\n", "f.yaml:1 (document 1): invalid YAML"},
		{"no apiVersion", "kind: Pod\nmetadata: {name: a}\n", "apiVersion is missing"},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", "kind is missing"},
		{"wrong type", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, ports: [{containerPort: http}]}]}\n", "Pod a: field spec.containers.ports.containerPort: cannot use a JSON string as int32"},
		{"unknown field", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containerz: []}\n", `unknown field "spec.containerz"`},
		{"scalar", "just text\n", "not an object"},
		{"second document line", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: Pod\n", "f.yaml:5 (document 2): apiVersion is missing"},
		{"old apiVersion", "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}\n", "apiVersion extensions/v1beta1 is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, errs := Parse("f.yaml", []byte(tc.in), true)
			if len(errs) == 0 {
				t.Fatalf("no error; documents %+v", docs)
			}
			if msg := errs[0].Error(); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
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
	write("notes.txt", "ignored")
	write(".hidden/x.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: hidden}\n")
	docs, err := Load([]string{dir, "-"}, Options{Stdin: strings.NewReader("apiVersion: v1\nkind: Pod\nmetadata: {name: stdin}\n")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range docs {
		names = append(names, d.Object.Name)
	}
	if got := strings.Join(names, ","); got != "a,b,stdin" {
		t.Errorf("loaded %s, want a,b,stdin", got)
	}
	if _, err := Load([]string{filepath.Join(dir, "missing.yaml")}, Options{}); err == nil {
		t.Error("missing file: expected an error")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\n---\nkind: List\napiVersion: v1\nitems: []\n"))
	f.Add([]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}}`))
	f.Add([]byte("---\n...\n---\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, errs := Parse("fuzz.yaml", b, true)
		for _, d := range docs {
			if d.Object == nil || d.Line < 1 {
				t.Fatalf("bad document %+v", d)
			}
		}
		for _, e := range errs {
			if !strings.HasPrefix(e.Error(), "fuzz.yaml:") {
				t.Fatalf("error without location: %v", e)
			}
		}
	})
}
