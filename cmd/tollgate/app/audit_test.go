package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const auditFixtures = "../../../internal/audit/testdata/manifests"

func TestAuditFilesJSON(t *testing.T) {
	out, errOut, code := run(t, "", "audit", "-f", auditFixtures, "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Results []struct {
			Object     map[string]string `json:"object"`
			Allowed    *bool             `json:"allowed"`
			Violations []map[string]any  `json:"violations"`
			Patch      []map[string]any  `json:"patch"`
			Source     *struct {
				File string `json:"file"`
				Line int    `json:"line"`
			} `json:"source"`
		} `json:"results"`
		Summary struct {
			Objects    int            `json:"objects"`
			Findings   int            `json:"findings"`
			ByFamily   map[string]int `json:"byFamily"`
			BySeverity map[string]int `json:"bySeverity"`
			ByAction   map[string]int `json:"byAction"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not the audit JSON: %v\n%s", err, out)
	}
	if len(doc.Results) == 0 || doc.Summary.Objects != len(doc.Results) || doc.Summary.ByFamily["drift"] == 0 {
		t.Errorf("%d results, summary %+v", len(doc.Results), doc.Summary)
	}
	for _, r := range doc.Results {
		if r.Allowed == nil || r.Source == nil || !strings.HasPrefix(r.Source.File, auditFixtures) {
			t.Errorf("%v: allowed %v, source %+v", r.Object, r.Allowed, r.Source)
		}
	}
	if !strings.Contains(errOut, "not audited (state, or kinds Tollgate does not review): Namespace (2)") {
		t.Errorf("stderr does not name what was not audited: %q", errOut)
	}
	if strings.Contains(errOut, "\r") {
		t.Errorf("a progress bar was drawn on a stream that is not a terminal: %q", errOut)
	}
}

func TestAuditFailOn(t *testing.T) {
	workloads := filepath.Join(auditFixtures, "workloads.json")
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		// The Deployment's findings are high, with action warn.
		{[]string{"-f", workloads}, ExitOK, ""},
		{[]string{"-f", workloads, "--fail-on", "critical"}, ExitOK, ""},
		{[]string{"-f", workloads, "--fail-on", "high"}, ExitFindings, "4 findings of severity high or higher (--fail-on high)"},
		{[]string{"-f", workloads, "--fail-on", "low", "-o", "sarif"}, ExitFindings, "--fail-on low"},
	} {
		out, errOut, code := run(t, "", append([]string{"audit"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.err) {
			t.Errorf("%v: exit %d (want %d), stderr %q", tc.args, code, tc.code, errOut)
		}
		if out == "" {
			t.Errorf("%v: no report", tc.args)
		}
	}
}

func TestAuditUsage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"-f", auditFixtures, "-A"}, "cannot be combined with -A"},
		{[]string{"-A", "-n", "ai"}, "cannot be combined with -n"},
		{[]string{"--state", auditFixtures}, "--state is for audits of manifests"},
		{[]string{"-f", auditFixtures, "--fail-on", "severe"}, `--fail-on "severe"`},
		{[]string{"-f", auditFixtures, "-o", "pdf"}, `unknown output "pdf"`},
		{[]string{"-f", auditFixtures, "--chunk-size", "0"}, "--chunk-size 0"},
		{[]string{"-f", bad}, "bad.yaml:1 (document 1): Pod p: field spec.containers"},
		{[]string{"--kubeconfig", filepath.Join(t.TempDir(), "missing")}, "kubeconfig"},
	} {
		out, errOut, code := run(t, "", append([]string{"audit"}, tc.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, tc.err) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, errOut, tc.err)
		}
		if out != "" {
			t.Errorf("%v: wrote a report on bad usage: %q", tc.args, out)
		}
	}

	// No kubeconfig anywhere: say where it was looked for and what to do.
	missing := filepath.Join(t.TempDir(), "none")
	t.Setenv("KUBECONFIG", missing)
	_, errOut, code := run(t, "", "audit", "-A")
	if want := "no cluster to audit: no kubeconfig found (looked at " + missing + "); pass --kubeconfig, or audit manifests with -f"; code != ExitUsage || !strings.Contains(errOut, want) {
		t.Errorf("audit -A without a kubeconfig: exit %d, stderr %q; want exit 2 and %q", code, errOut, want)
	}
}
