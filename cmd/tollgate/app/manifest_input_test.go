package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// TestEvalManifestInput: input that holds no objects, or that kubectl
// would not read as Tollgate reads it, is bad input (exit 2, nothing on
// stdout), never an empty passing table.
func TestEvalManifestInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	allowed, err := os.ReadFile("../../../examples/vllm-deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	good := write("good.yaml", string(allowed))
	empty := write("empty.yaml", "")
	mixed := filepath.Dir(write("mixed/a.yaml", string(allowed)))
	write("mixed/b.yaml", "---\n# Source: chart/templates/disabled.yaml\n")
	voidDir := filepath.Dir(write("void/a.yaml", "# nothing rendered\n"))
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  []string
	}{
		{"empty stdin", []string{"-f", "-"}, "", ExitUsage, []string{"no objects in - (standard input)"}},
		{"stdin of separators", []string{"-f", "-"}, "---\n---\n", ExitUsage, []string{"no objects in - (standard input)"}},
		{"empty file", []string{"-f", empty}, "", ExitUsage, []string{"no objects in " + empty}},
		{"only comments", []string{"-f", write("comments.yaml", "# a\n---\n# b\n")}, "", ExitUsage, []string{"no objects in "}},
		{"an empty List", []string{"-f", write("list.yaml", "apiVersion: v1\nkind: List\nitems: []\n")}, "", ExitUsage, []string{"list.yaml"}},
		{"a directory of empty files", []string{"-f", voidDir}, "", ExitUsage, []string{"no objects in " + voidDir}},
		// Each -f counts: a good file does not cover for an empty one.
		{"a good file and an empty one", []string{"-f", good, "-f", empty}, "", ExitUsage, []string{"no objects in " + empty}},
		{"a directory with manifests and an empty file", []string{"-f", mixed}, "", ExitOK, nil},
		{"content on the separator line", []string{"-f", "-"}, "--- {apiVersion: v1, kind: Pod, metadata: {name: evil}, spec: {containers: [{name: c, image: i, securityContext: {privileged: true}}]}}\n", ExitUsage,
			[]string{"-:1: content on the document separator line", "kubectl refuses it"}},
		{"content on a separator after an allowed object", []string{"-f", "-"}, string(allowed) + "--- {apiVersion: v1, kind: Pod, metadata: {name: evil}}\n", ExitUsage,
			[]string{"content on the document separator line"}},
		{"a separator kubectl and YAML read apart", []string{"-f", "-"}, string(allowed) + "---#note\n" + string(allowed), ExitUsage,
			[]string{"kubectl and YAML read it differently"}},
		{"duplicate key", []string{"-f", "-"}, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: i, securityContext: {privileged: true}}]\n  containers: [{name: c, image: i}]\n", ExitUsage,
			[]string{"-:1 (document 1): line 6: duplicate key \"containers\" (first at line 5)"}},
		{"unparseable quantity", []string{"-f", "-"}, "apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  containers:\n  - name: c\n    image: i\n    resources: {limits: {cpu: \"1mi\"}}\n", ExitUsage,
			[]string{"Pod q: field spec.containers[0].resources.limits.cpu: unable to parse quantity's suffix (value \"1mi\", line 8)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, tc.stdin, append([]string{"eval"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr %s", code, tc.code, errOut)
			}
			if code == ExitUsage && out != "" {
				t.Errorf("nothing may be printed on stdout on bad input; got:\n%s", out)
			}
			for _, m := range tc.want {
				if !strings.Contains(errOut, m) {
					t.Errorf("stderr %q does not mention %q", errOut, m)
				}
			}
		})
	}
}

// TestAuditManifestInputEmpty: audit -f of an input without objects is
// bad input too, not a clean report.
func TestAuditManifestInputEmpty(t *testing.T) {
	for _, stdin := range []string{"", "---\n", "# rendered nothing\n---\n---\n"} {
		out, errOut, code := run(t, stdin, "audit", "-f", "-")
		if code != ExitUsage || !strings.Contains(errOut, "no objects in - (standard input)") {
			t.Errorf("stdin %q: exit %d, stderr %q", stdin, code, errOut)
		}
		if out != "" {
			t.Errorf("stdin %q: stdout %q, want nothing", stdin, out)
		}
	}
}

// TestEvalTableCraftedNames: through eval, a pod whose name and container
// name hold line breaks and terminal escapes prints one object row and
// its findings, each on one line, escaped: no forged "allowed" row.
func TestEvalTableCraftedNames(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"evil\\nPod default/fake   allowed\"\n  namespace: default\n" +
		"spec:\n  containers:\n  - name: \"c\\r\\x1b[2KPod default/fake2  allowed\"\n    image: i\n    securityContext: {privileged: true}\n"
	out, errOut, code := run(t, in, "eval", "-f", "-")
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d; stderr %s", code, ExitFindings, errOut)
	}
	for _, bad := range []string{"\r", "\x1b"} {
		if strings.Contains(out, bad) {
			t.Errorf("stdout holds %q:\n%s", bad, out)
		}
	}
	for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if i == 0 {
			continue
		}
		// Every line is the object's row or a finding below it (which
		// starts with blanks): none starts a row of its own.
		if !strings.HasPrefix(l, `Pod "default/evil\nPod default/fake   allowed"`) && !strings.HasPrefix(l, " ") {
			t.Errorf("line %d %q is a row of its own:\n%s", i, l, out)
		}
	}
	if !strings.Contains(out, "denied") || !strings.Contains(out, `\r\x1b[2KPod default/fake2  allowed`) {
		t.Errorf("table:\n%s", out)
	}
}

// TestWriteTableEscapes: a name or message with line breaks, carriage
// returns or terminal escapes stays on its row, visibly escaped.
func TestWriteTableEscapes(t *testing.T) {
	results := []*review.Result{
		{Object: kubeobjects.Ref{Kind: "Pod", Namespace: "ns", Name: "evil\nPod ns/fake  allowed"}, Allowed: false,
			Violations: []review.Violation{{Policy: "pss.baseline.privileged", Action: engine.ActionDeny, Message: "privileged\r\x1b[32mPod ns/x  allowed\x1b[0m"}}},
		{Object: kubeobjects.Ref{Kind: "Pod", Namespace: "ns", Name: "tab\there"}, Allowed: true},
		{Object: kubeobjects.Ref{Kind: "Pod", Namespace: "ns", Name: "rtl\u202eoverride"}, Allowed: true},
		{Object: kubeobjects.Ref{Kind: "Pod", Namespace: "ns", Name: "café"}, Allowed: true},
	}
	var buf bytes.Buffer
	if err := writeTable(&buf, results); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 6 (header, 4 objects, 1 finding):\n%s", len(lines), out)
	}
	for _, bad := range []string{"\r", "\x1b", "\t", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("output holds %q:\n%s", bad, out)
		}
	}
	for i, want := range []string{
		`Pod "ns/evil\nPod ns/fake  allowed"`,
		`"privileged\r\x1b[32mPod ns/x  allowed\x1b[0m"`,
		`Pod "ns/tab\there"`,
		`Pod "ns/rtl\u202eoverride"`,
		"Pod ns/café ",
	} {
		if !strings.Contains(lines[i+1], want) {
			t.Errorf("line %d %q does not contain %q", i+1, lines[i+1], want)
		}
	}
	if !strings.HasPrefix(lines[1], `Pod "ns/evil`) || !strings.Contains(lines[1], "denied") {
		t.Errorf("the crafted object's row: %q", lines[1])
	}
}
