package app

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShippedSuitesPass(t *testing.T) {
	out, errOut, code := run(t, "", "test", "../../../conformance/suites")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, " passed, 0 failed") || strings.Contains(out, "--- FAIL") {
		t.Errorf("unexpected output:\n%s", out)
	}
}

// TestWrongExpectationFails is a test of the tester: a suite whose
// expectation is wrong exits 1 and shows what was expected and what came.
func TestWrongExpectationFails(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "junit.xml")
	out, _, code := run(t, "", "test", "testdata/suites/wrong-expectation.yaml", "--no-rego", "--junit", junit)
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d\n%s", code, ExitFindings, out)
	}
	for _, want := range []string{
		"--- FAIL: wrong/expects an allow that does not come",
		"wrong-expectation.yaml:6: allowed: expected true, got false",
		"violations: expected [pss.restricted.runAsNonRoot], got [pss.baseline.privileged",
		"mutated: spec.tolerations: missing",
		"pss.baseline.privileged (deny): privileged (container \"c\" must not set securityContext.privileged=true)",
		"0 passed, 1 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil || len(doc.Suites) != 1 || doc.Suites[0].Failures != 1 || doc.Suites[0].Tests != 1 {
		t.Errorf("JUnit report %+v (%v):\n%s", doc, err, b)
	}
}

func TestMalformedSuites(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	head := "apiVersion: tollgate.dev/v1alpha1\nkind: PolicyTest\nmetadata: {name: s}\n"
	pod := "{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: c, image: i}]}}"
	for i, tc := range []struct{ name, suite, want string }{
		{"unknown key", head + "cases:\n- name: a\n  object: " + pod + "\n  expect: {alowed: true}\n", "s0.yaml:7: field alowed not found in type policytest.Expect"}, //nolint:misspell // the misspelled key is the case
		{"missing file", head + "cases:\n- name: a\n  file: nope.yaml\n", "s1.yaml:5: case \"a\": "},
		{"both file and object", head + "cases:\n- name: a\n  file: x.yaml\n  object: " + pod + "\n", "give exactly one of file and object"},
		{"bad regex", head + "cases:\n- name: a\n  object: " + pod + "\n  expect: {messages: ['(']}\n", "regular expression \"(\""},
		{"no cases", head + "cases: []\n", "no cases"},
		{"duplicate names", head + "cases:\n- name: a\n  object: " + pod + "\n- name: a\n  object: " + pod + "\n", ":7: cases[1]: duplicate case name"},
		{"wrong type", head + "cases:\n- name: a\n  object: " + pod + "\n  expect: {allowed: maybe}\n", ":7: cannot unmarshal !!str `maybe` into bool"},
		{"bad state", head + "state:\n- object: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\ncases:\n- name: a\n  object: " + pod + "\n", ":5: state[0]: ConfigMap c is not a kind Tollgate reads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := write(fmt.Sprintf("s%d.yaml", i), tc.suite)
			out, errOut, code := run(t, "", "test", f, "--no-rego")
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d\n%s%s", code, ExitUsage, out, errOut)
			}
			if out != "" {
				t.Errorf("a malformed suite must stop the run before any output:\n%s", out)
			}
			if !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, dir) {
				t.Errorf("stderr %q does not name the file and %q", errOut, tc.want)
			}
		})
	}
}

func TestRunFilterAndOperatorBundle(t *testing.T) {
	bundle := writeBundle(t, `# METADATA
# title: Team label
# description: Pods carry a team label.
# custom:
#   id: acme.team-label
#   severity: low
#   action: warn
#   targets: [pod]
#   remediation: Add metadata.labels.team.
package acme.team

violation contains {"msg": "pod has no team label", "path": "metadata.labels"} if not input.pod.metadata.labels.team
`)
	if err := os.WriteFile(filepath.Join(bundle, "team_test.rego"), []byte(`package acme.team_test

import data.acme.team

test_missing_label if {
	count(team.violation) == 1 with input as {"pod": {"metadata": {}}}
}

test_label_present if {
	count(team.violation) == 0 with input as {"pod": {"metadata": {"labels": {"team": "ml"}}}}
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, "", "test", "../../../conformance/suites", "--bundle", bundle, "--run", "acme|baseline level", "-v")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"--- PASS: rego acme.team_test.test_missing_label", "--- PASS: pss/the baseline level only checks baseline", "rego: 2 passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "a hardened vLLM pod") {
		t.Errorf("--run did not filter the cases:\n%s", out)
	}
}

// TestPolicyDocsUpToDate: docs/policies.md is what `tollgate policies
// --docs` writes today (every example evaluated); CI fails when it is not.
func TestPolicyDocsUpToDate(t *testing.T) {
	out, errOut, code := run(t, "", "policies", "--docs")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	const path = "../../../docs/policies.md"
	if *update {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("docs/policies.md is out of date: run go run ./cmd/tollgate policies --docs > docs/policies.md (or go test ./cmd/tollgate/app -run TestPolicyDocsUpToDate -update)")
	}
}

// TestTodoRegoTestFails: a todo_ Rego test is skipped, and a skipped test
// fails the run, as `opa test` does without --exit-zero-on-skipped.
func TestTodoRegoTestFails(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wip_test.rego"), []byte("package ops.wip_test\n\ntodo_test_later if false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "", "test", "--bundle", dir, "--run", "ops.wip")
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitFindings, out, errOut)
	}
	if !strings.Contains(out, "--- SKIP: rego ops.wip_test.todo_test_later") || !strings.Contains(out, "1 skipped") {
		t.Errorf("the skipped test is not reported:\n%s", out)
	}
}
