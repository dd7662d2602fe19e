package audit

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/manifest"
)

func TestSplitPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want []pathSegment
	}{
		{"spec.containers[0].securityContext", []pathSegment{{key: "spec", index: -1}, {key: "containers", index: -1}, {index: 0}, {key: "securityContext", index: -1}}},
		{`metadata.annotations["tollgate.dev/exempt"]`, []pathSegment{{key: "metadata", index: -1}, {key: "annotations", index: -1}, {key: "tollgate.dev/exempt", index: -1}}},
		{`spec.limits["a]b"]`, []pathSegment{{key: "spec", index: -1}, {key: "limits", index: -1}, {key: "a]b", index: -1}}},
		{"spec.template.spec.volumes[12]", []pathSegment{{key: "spec", index: -1}, {key: "template", index: -1}, {key: "spec", index: -1}, {key: "volumes", index: -1}, {index: 12}}},
		{"", nil},
	} {
		if got := splitPath(tc.path); !slices.Equal(got, tc.want) {
			t.Errorf("splitPath(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

// TestLocate finds the line of a field path in multi-document YAML, in a
// kind: List and in JSON, and falls back to the deepest existing field.
func TestLocate(t *testing.T) {
	dir := t.TempDir()
	yamlFile := filepath.Join(dir, "pods.yaml")
	if err := os.WriteFile(yamlFile, []byte(`# leading comment
apiVersion: v1
kind: Namespace
metadata:
  name: ai
---
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: ai
spec:
  containers:
  - name: a
    image: x
  - name: b
    image: nginx
    securityContext:
      privileged: true
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: q, namespace: ai}
  spec:
    containers:
    - name: c
      image: busybox
`), 0o644); err != nil {
		t.Fatal(err)
	}
	jsonFile := filepath.Join(dir, "pod.json")
	if err := os.WriteFile(jsonFile, []byte("{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\",\n  \"metadata\": {\"name\": \"j\"},\n  \"spec\": {\n    \"containers\": [\n      {\"name\": \"a\", \"image\": \"x\"}\n    ]\n  }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Load([]string{dir}, manifest.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	f := &Files{Docs: docs}
	byName := map[string]manifest.Document{}
	for _, d := range docs {
		byName[d.Object.Name] = d
	}
	for _, tc := range []struct {
		doc, path string
		want      int
	}{
		{"p", "spec.containers[1].securityContext.privileged", 19},
		{"p", "spec.containers[1].securityContext", 18},
		{"p", "spec.containers[0].securityContext.runAsNonRoot", 14}, // missing: the container
		{"p", "spec.securityContext", 12},                            // missing: spec
		{"p", "spec.containers[7]", 13},                              // no such container: the list
		{"q", "spec.containers[0]", 29},
		{"q", "metadata", 26},
		{"j", "spec.containers[0].image", 7},
		{"j", "metadata.name", 4},
	} {
		if got := f.locator(byName[tc.doc])(tc.path); got != tc.want {
			t.Errorf("%s %s: line %d, want %d", tc.doc, tc.path, got, tc.want)
		}
	}
	// Standard input has no file to read back: findings keep the
	// document's line.
	r := &Result{Source: &Location{File: "-", Line: 3}, locate: (&Files{}).locator(manifest.Document{Source: "-", Line: 3})}
	if got := r.Line("spec"); got != 3 {
		t.Errorf("stdin: line %d, want 3", got)
	}
}

// TestLocateAcrossEmptyDocuments: the locator reads the file with the
// loader's decoder, so empty documents, comments after separators and
// CRLF line ends do not shift a document's lines.
func TestLocateAcrossEmptyDocuments(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rendered.yaml")
	src := "---\n# Source: chart/templates/empty.yaml\n---\n# Source: chart/templates/pod.yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: c\n    image: x\n--- # trailing note\n---\n\n\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b\nspec:\n  hostNetwork: true\n  containers: []\n"
	crlf := filepath.Join(dir, "crlf.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crlf, []byte("# c\r\n---\r\napiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: w\r\nspec:\r\n  hostPID: true\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Load([]string{file, crlf}, manifest.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	f := &Files{Docs: docs}
	for _, tc := range []struct {
		doc  int
		path string
		want int
	}{
		{0, "metadata.name", 8},
		{0, "spec.containers[0].image", 12},
		{0, "spec.hostNetwork", 9}, // missing: spec
		{1, "spec.hostNetwork", 22},
		{1, "", 17},
		{2, "spec.hostPID", 8},
	} {
		d := docs[tc.doc]
		if got := f.locator(d)(tc.path); got != tc.want {
			t.Errorf("%s %q: line %d, want %d", d.Object.Name, tc.path, got, tc.want)
		}
	}
	if docs[0].Line != 5 || docs[1].Line != 17 || docs[2].Line != 3 {
		t.Errorf("document lines %d, %d, %d; want 5, 17, 3", docs[0].Line, docs[1].Line, docs[2].Line)
	}
}
