package policytest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// write creates files under a new directory and returns it.
func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	head = "apiVersion: tollgate.dev/v1alpha1\nkind: PolicyTest\nmetadata: {name: s}\n"
	pod  = "{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: ns}, spec: {containers: [{name: c, image: i}]}}"
)

// TestLoadEveryField reads a suite that sets every key and checks where
// each one lands.
func TestLoadEveryField(t *testing.T) {
	dir := write(t, map[string]string{
		"suites/full.yaml": `apiVersion: tollgate.dev/v1alpha1
kind: PolicyTest
metadata:
  name: full
config:
  actions: {spot: warn}
  pss: {version: v1.30}
iamPolicies: ../iam/roles.json
state:
- file: ../state/cluster.yaml
- object: {apiVersion: v1, kind: Namespace, metadata: {name: ns}}
cases:
- name: from a file
  file: cases/pod.yaml
  expect:
    allowed: false
    violations: [pss.restricted.runAsNonRoot]
    includes: ["pss.*"]
    excludes: ["quota.*"]
    messages: ["^runAsNonRoot"]
    warnings: ["drain"]
    mutated: {spec: {tolerations: [{key: nvidia.com/gpu}]}}
    patch: 2
- name: inline, as an update by a user
  operation: UPDATE
  user: {username: alice, groups: [ml, admins]}
  object: ` + pod + `
  expect:
    allowed: true
    violations: []
    patch: 0
`,
		"suites/cases/pod.yaml": "# a comment first\napiVersion: v1\nkind: Pod\nmetadata: {name: f, namespace: ns}\nspec: {containers: [{name: c, image: i}]}\n",
		"state/cluster.yaml":    "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q, namespace: ns}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa, namespace: ns}\n",
		"iam/roles.json":        "{}",
	})
	file := filepath.Join(dir, "suites", "full.yaml")
	s, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if s.File != file || s.Metadata.Name != "full" || s.APIVersion != "tollgate.dev/v1alpha1" || s.Kind != "PolicyTest" {
		t.Errorf("head: %+v", s)
	}
	if a, _ := s.Config["actions"].(map[string]any); a["spot"] != "warn" {
		t.Errorf("config: %v", s.Config)
	}
	if want := filepath.Join(dir, "iam", "roles.json"); s.IAMPolicies != want {
		t.Errorf("iamPolicies %q, want %q (relative to the suite)", s.IAMPolicies, want)
	}
	if len(s.State) != 2 || s.State[0].Line != 10 || s.State[1].Line != 11 {
		t.Errorf("state lines: %+v", s.State)
	}
	var state []string
	for _, d := range s.StateDocs {
		state = append(state, d.Object.GVK.Kind+"/"+d.Object.Name)
	}
	if got := strings.Join(state, ","); got != "ResourceQuota/q,ServiceAccount/sa,Namespace/ns" {
		t.Errorf("state objects %s", got)
	}
	if len(s.Cases) != 2 {
		t.Fatalf("%d cases", len(s.Cases))
	}
	c0, c1 := s.Cases[0], s.Cases[1]
	if c0.Line != 13 || c0.Operation != "CREATE" || c0.User != nil {
		t.Errorf("case 0: line %d operation %q user %v", c0.Line, c0.Operation, c0.User)
	}
	if c0.Doc == nil || c0.Doc.Object.Name != "f" || c0.Doc.Source != filepath.Join(dir, "suites", "cases", "pod.yaml") || c0.Doc.Line != 2 {
		t.Errorf("case 0 object: %+v", c0.Doc)
	}
	e := c0.Expect
	if e.Allowed == nil || *e.Allowed || e.Violations == nil || !slices.Equal(*e.Violations, []string{"pss.restricted.runAsNonRoot"}) ||
		!slices.Equal(e.Includes, []string{"pss.*"}) || !slices.Equal(e.Excludes, []string{"quota.*"}) ||
		!slices.Equal(e.Messages, []string{"^runAsNonRoot"}) || !slices.Equal(e.Warnings, []string{"drain"}) ||
		e.Mutated == nil || e.Patch == nil || *e.Patch != 2 {
		t.Errorf("case 0 expect: %+v", e)
	}
	if c1.Line != 24 || c1.Operation != "UPDATE" || c1.User == nil || c1.User.Username != "alice" || !slices.Equal(c1.User.Groups, []string{"ml", "admins"}) {
		t.Errorf("case 1: %+v", c1)
	}
	// An inline object is read from the suite, with the suite's lines.
	if c1.Doc == nil || c1.Doc.Object.Name != "p" || c1.Doc.Source != file || c1.Doc.Line != 27 {
		t.Errorf("case 1 object: %+v", c1.Doc)
	}
	if e := c1.Expect; e.Allowed == nil || !*e.Allowed || e.Violations == nil || len(*e.Violations) != 0 || *e.Patch != 0 {
		t.Errorf("case 1 expect: %+v", e)
	}
}

// TestLoadInlineObjectAsKubectl: an inline object reads as a manifest file
// does (YAML 1.1, as kubectl), not as a generic YAML map.
func TestLoadInlineObjectAsKubectl(t *testing.T) {
	dir := write(t, map[string]string{"s.yaml": head + "cases:\n- name: a\n  object:\n    apiVersion: v1\n    kind: Pod\n    metadata: {name: p}\n    spec:\n      hostNetwork: yes\n      containers: [{name: c, image: i}]\n"})
	s, err := Load(filepath.Join(dir, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Cases[0].Doc.Object.Pod(); p == nil || !p.Spec.HostNetwork {
		t.Errorf("hostNetwork: yes must read as true")
	}
}

func TestLoadErrors(t *testing.T) {
	c := func(body string) string { return head + "cases:\n- name: a\n" + body }
	obj := "  object: " + pod + "\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // after the suite's path
	}{
		{"unreadable", nil, ": open "},
		{"empty file", map[string]string{"s.yaml": ""}, ": no suite: the file holds no YAML document"},
		{"only comments", map[string]string{"s.yaml": "# nothing\n---\n"}, ": no suite"},
		{"wrong kind", map[string]string{"s.yaml": "apiVersion: tollgate.dev/v1alpha1\nkind: Suite\nmetadata: {name: s}\ncases: []\n"}, `:1: apiVersion "tollgate.dev/v1alpha1" kind "Suite": want tollgate.dev/v1alpha1 PolicyTest`},
		{"no name", map[string]string{"s.yaml": "apiVersion: tollgate.dev/v1alpha1\nkind: PolicyTest\nmetadata: {}\ncases: []\n"}, ":3: metadata.name is missing"},
		{"no cases", map[string]string{"s.yaml": head + "cases: []\n"}, ":4: no cases"},

		// Malformed YAML, with the line.
		{"syntax error", map[string]string{"s.yaml": head + "cases:\n- name: [\n"}, ":5: invalid YAML: did not find expected node content"},
		{"unknown key", map[string]string{"s.yaml": head + "casez: []\n"}, ":4: field casez not found in type policytest.Suite"},
		{"unknown expect key", map[string]string{"s.yaml": c(obj + "  expect: {alowed: true}\n")}, ":7: field alowed not found in type policytest.Expect"}, //nolint:misspell // the misspelled key is the case
		{"unknown case key", map[string]string{"s.yaml": c(obj + "  opperation: UPDATE\n")}, ":7: field opperation not found in type policytest.Case"},
		{"wrong type", map[string]string{"s.yaml": c(obj + "  expect: {patch: two}\n")}, ":7: cannot unmarshal !!str `two` into int"},
		{"several type errors", map[string]string{"s.yaml": c(obj + "  expect: {patch: two, allowed: maybe}\n")}, "(and 1 more)"},
		{"duplicate key", map[string]string{"s.yaml": c(obj + "  name: b\n")}, `:7: duplicate key "name" (first at line 5)`},
		{"content on a separator", map[string]string{"s.yaml": "--- " + strings.ReplaceAll(strings.TrimSpace(head), "\n", ", ") + "\n"}, ":1: content on the document separator line"},
		{"a second document", map[string]string{"s.yaml": c(obj) + "---\n" + c(obj)}, ":8: a second document: a PolicyTest file holds one suite"},

		// Cases.
		{"no case name", map[string]string{"s.yaml": head + "cases:\n- object: " + pod + "\n"}, ":5: cases[0]: name is missing"},
		{"duplicate case names", map[string]string{"s.yaml": c(obj) + "- name: a\n" + obj}, `:7: cases[1]: duplicate case name "a"`},
		{"neither file nor object", map[string]string{"s.yaml": c("  expect: {allowed: true}\n")}, `:5: case "a": give exactly one of file and object`},
		{"null object", map[string]string{"s.yaml": c("  object: null\n")}, `:5: case "a": give exactly one of file and object`},
		{"file and object", map[string]string{"s.yaml": c("  file: p.yaml\n" + obj)}, "give exactly one of file and object"},
		{"bad operation", map[string]string{"s.yaml": c(obj + "  operation: DELETE\n")}, `:5: case "a": operation "DELETE": want CREATE or UPDATE`},
		{"missing case file", map[string]string{"s.yaml": c("  file: nope.yaml\n")}, `:5: case "a": stat `},
		{"empty case file", map[string]string{"s.yaml": c("  file: e.yaml\n"), "e.yaml": "---\n"}, `:5: case "a": no objects in `},
		{"two objects", map[string]string{"s.yaml": c("  file: two.yaml\n"), "two.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\n"}, `case "a": 2 objects; a case reviews exactly one`},
		{"kind not reviewed", map[string]string{"s.yaml": c("  object: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n")}, `case "a": ConfigMap c is not a kind Tollgate reviews`},
		{"bad inline object", map[string]string{"s.yaml": c("  object: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containerz: []}}\n")}, `s.yaml:5: case "a": `},
		{"bad quantity in an inline object", map[string]string{"s.yaml": c("  object:\n    apiVersion: v1\n    kind: Pod\n    metadata: {name: p}\n    spec:\n      containers:\n      - {name: c, resources: {limits: {cpu: 1x}}}\n")}, `field spec.containers[0].resources.limits.cpu: quantities must match the regular expression`}, {"bad quantity suffix in an inline object", map[string]string{"s.yaml": c("  object:\n    apiVersion: v1\n    kind: Pod\n    metadata: {name: p}\n    spec:\n      containers:\n      - {name: c, resources: {limits: {cpu: 1mi}}}\n")}, `Pod p: field spec.containers[0].resources.limits.cpu: unable to parse quantity's suffix (value "1mi", line 12)`},
		{"bad case file", map[string]string{"s.yaml": c("  file: bad.yaml\n"), "bad.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: a, name: b}\n"}, `bad.yaml:1 (document 1): line 3: duplicate key "name"`},
		{"bad glob", map[string]string{"s.yaml": c(obj + "  expect: {includes: ['[']}\n")}, `:5: case "a": expect: glob "["`},
		{"bad regex", map[string]string{"s.yaml": c(obj + "  expect: {warnings: ['(']}\n")}, `case "a": expect: regular expression "("`},

		// State.
		{"missing state file", map[string]string{"s.yaml": head + "state:\n- file: nope.yaml\ncases:\n- name: a\n" + obj}, ":5: state[0]: stat "},
		{"empty state file", map[string]string{"s.yaml": head + "state:\n- file: e.yaml\ncases:\n- name: a\n" + obj, "e.yaml": "# nothing yet\n"}, ":5: state[0]: no objects in "},
		{"state kind not read", map[string]string{"s.yaml": head + "state:\n- object: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\ncases:\n- name: a\n" + obj}, ":5: state[0]: ConfigMap c is not a kind Tollgate reads"},
		{"state with neither", map[string]string{"s.yaml": head + "state:\n- {}\ncases:\n- name: a\n" + obj}, ":5: state[0]: give file or object"},
		{"missing iamPolicies", map[string]string{"s.yaml": head + "iamPolicies: nope.json\ncases:\n- name: a\n" + obj}, ":4: iamPolicies: stat "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t, tc.files)
			file := filepath.Join(dir, "s.yaml")
			s, err := Load(file)
			if err == nil {
				t.Fatalf("no error; suite %+v", s)
			}
			var se *Error
			if !errors.As(err, &se) || se.File != file {
				t.Errorf("error %v is not a *policytest.Error for %s", err, file)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, file) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not start with the suite's path and contain %q", msg, tc.want)
			}
		})
	}
}

// TestLoadEmptyDocumentsFirst: empty documents before the suite do not
// shift what is decoded, or the lines.
func TestLoadEmptyDocumentsFirst(t *testing.T) {
	for _, sep := range []string{"---", "--- # note"} {
		dir := write(t, map[string]string{"s.yaml": sep + "\n# nothing\n" + sep + "\n" + head + "cases:\n- name: a\n  object: " + pod + "\n---\n"})
		s, err := Load(filepath.Join(dir, "s.yaml"))
		if err != nil {
			t.Fatalf("%s: %v", sep, err)
		}
		if s.Metadata.Name != "s" || len(s.Cases) != 1 || s.Cases[0].Line != 8 {
			t.Errorf("%s: suite %+v", sep, s)
		}
	}
}

func TestFind(t *testing.T) {
	dir := write(t, map[string]string{
		"b/suite.yaml":      head + "cases: []\n",
		"a.yml":             "---\n" + head + "cases: []\n",
		"b/state.yaml":      "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n",
		"b/other.yaml":      "apiVersion: example.com/v1\nkind: PolicyTest\n",
		"notes.txt":         head,
		"c/template.yaml":   "{{ .Values.x }}: [\n",
		".hidden/s.yaml":    head + "cases: []\n",
		"d/list.yaml":       "- a\n- b\n",
		"d/json-suite.yaml": `{"apiVersion": "tollgate.dev/v1alpha1", "kind": "PolicyTest", "metadata": {"name": "j"}}`,
	})
	got, err := Find([]string{dir, filepath.Join(dir, "notes.txt")})
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, p := range got {
		r, _ := filepath.Rel(dir, p)
		rel = append(rel, r)
	}
	// A file given by name is a suite; a walk keeps the PolicyTests, in
	// lexical order.
	if want := []string{"a.yml", "b/suite.yaml", "d/json-suite.yaml", "notes.txt"}; !slices.Equal(rel, want) {
		t.Errorf("found %v, want %v", rel, want)
	}
	// A suite that does not parse is an error, not a file to skip.
	broken := write(t, map[string]string{"s.yaml": head + "cases:\n- name: [\n"})
	if _, err := Find([]string{broken}); err == nil || !strings.Contains(err.Error(), "s.yaml:1 (document 1): line 5: invalid YAML") {
		t.Errorf("broken suite: %v", err)
	}
	if _, err := Find([]string{filepath.Join(dir, "nope")}); err == nil {
		t.Error("missing path: no error")
	}
}
