package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// testNow is the time the golden reports are written at.
var testNow = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

var (
	engineOnce sync.Once
	testEng    *engine.Engine
	engineErr  error
)

// testEngine compiles the embedded bundle once for the package's tests.
func testEngine(t testing.TB) *engine.Engine {
	t.Helper()
	engineOnce.Do(func() {
		testEng, engineErr = wiring.NewEngine(context.Background(), config.Default(), nil)
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return testEng
}

// fixtureRunner reviews testdata/manifests as `audit -f` does: its state
// kinds form the cluster state, and no IAM documents are read.
func fixtureRunner(t testing.TB, cfg *config.Config, dirs ...string) (*Runner, *Files) {
	t.Helper()
	if len(dirs) == 0 {
		dirs = []string{filepath.Join("testdata", "manifests")}
	}
	docs, err := manifest.Load(dirs, manifest.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	st := state.NewStatic()
	for _, d := range docs {
		if !d.Skipped && state.IsState(d.Object) {
			st.Add(d.Object)
		}
	}
	if cfg == nil {
		cfg = config.Default()
	}
	r, err := wiring.NewReviewer(engine.NewHolder(testEngine(t)), cfg, st, wiring.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	// Small chunks and several workers: results must keep the files' order.
	return &Runner{Reviewer: r, Workers: 3}, &Files{Docs: docs, ChunkSize: 4}
}

func testMeta(t testing.TB) Meta {
	return Meta{Policies: testEngine(t).Policies(), Scope: "manifests testdata/manifests", Version: "v1.0.0-test", Now: testNow, MaxResults: 8, MaxRows: 12}
}

// render audits the fixtures into one format.
func render(t *testing.T, format string) (string, *Summary) {
	t.Helper()
	runner, src := fixtureRunner(t, nil)
	var out bytes.Buffer
	rep, err := NewReport(format, &out, testMeta(t))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := runner.Run(context.Background(), src, rep)
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), sum
}

// goldenFiles maps each format to its golden file in testdata/golden.
var goldenFiles = map[string]string{
	"table":        "audit.table.txt",
	"json":         "audit.json",
	"sarif":        "audit.sarif",
	"html":         "audit.html",
	"policyreport": "audit.policyreport.yaml",
	"openreports":  "audit.openreports.yaml",
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/audit -run %s -update creates it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the output (go test ./internal/audit -run %s -update to accept):\n%s", path, t.Name(), got)
	}
}

// TestGolden writes every format for the fixtures and compares it with
// its golden file.
func TestGolden(t *testing.T) {
	if len(goldenFiles) != len(Formats) {
		t.Fatalf("formats %v, golden files for %d", Formats, len(goldenFiles))
	}
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			out, _ := render(t, format)
			golden(t, goldenFiles[format], out)
		})
	}
}

// TestGoldenFilesMatchFormats fails on a golden file no format writes and
// on a format without one.
func TestGoldenFilesMatchFormats(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	var have, want []string
	for _, e := range entries {
		have = append(have, e.Name())
	}
	for _, f := range Formats {
		want = append(want, goldenFiles[f])
	}
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Errorf("testdata/golden holds %v, the formats write %v", have, want)
	}
}

// TestFixtureFindings pins what the fixtures are there to show, whatever
// the wording of the policies.
func TestFixtureFindings(t *testing.T) {
	out, sum := render(t, "json")
	var doc struct {
		Results []struct {
			Object     map[string]string  `json:"object"`
			Allowed    bool               `json:"allowed"`
			Violations []review.Violation `json:"violations"`
			Source     *Location          `json:"source"`
		} `json:"results"`
		Summary Summary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("JSON output does not parse: %v", err)
	}
	policies := map[string][]string{}
	for _, r := range doc.Results {
		for _, v := range r.Violations {
			policies[r.Object["name"]] = append(policies[r.Object["name"]], v.Policy)
		}
		if r.Source == nil || r.Source.Line == 0 {
			t.Errorf("%v has no source line", r.Object)
		}
	}
	for name, want := range map[string]string{
		"vllm-0":        "drift.gpu-tolerations",
		"rag-agent-0":   "drift.credentials",
		"batch-embed-0": "drift.prestop-drain",
		"tenant-a-llm":  "drift.mig",
		"notebook":      "pss.baseline.privileged",
		"triton":        "pss.restricted.runAsNonRoot",
		"gpu-spot":      "nodepool.gpu",
	} {
		if !slices.Contains(policies[name], want) {
			t.Errorf("%s: findings %v lack %s", name, policies[name], want)
		}
	}
	for _, name := range []string{"compliant"} {
		if len(policies[name]) != 0 {
			t.Errorf("%s: unexpected findings %v", name, policies[name])
		}
	}
	if got := policies["old-gpu"]; slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, "drift.") }) {
		t.Errorf("old-gpu is in a namespace labelled tollgate.dev/drift=off, yet has drift findings %v", got)
	}
	if sum.Exempt != 1 || sum.Objects != len(doc.Results) || sum.NotReviewed["Namespace"] != 2 {
		t.Errorf("summary: exempt %d (want 1, kube-system), objects %d for %d results, not reviewed %v", sum.Exempt, sum.Objects, len(doc.Results), sum.NotReviewed)
	}
	if doc.Summary.Findings != sum.Findings || sum.Findings != sum.BySeverity["critical"]+sum.BySeverity["high"]+sum.BySeverity["medium"]+sum.BySeverity["low"] {
		t.Errorf("summary counts disagree: %+v", doc.Summary)
	}
}

// TestSARIFSchema validates the SARIF output against the published SARIF
// 2.1.0 schema (testdata/sarif-schema-2.1.0-rtm.5.json: the schema that
// SchemaStore publishes and code scanning validates uploads against, as
// shipped in the npm package @microsoft/jest-sarif 1.0.0-beta.0), with
// format assertions on (uri-reference and the like).
func TestSARIFSchema(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "sarif-schema-2.1.0-rtm.5.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif-schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("sarif-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(name, text string) error {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		if err != nil {
			t.Fatalf("%s: not JSON: %v", name, err)
		}
		return schema.Validate(inst)
	}
	out, _ := render(t, "sarif")
	if err := validate("fixtures", out); err != nil {
		t.Errorf("the SARIF output is not valid SARIF 2.1.0: %v", err)
	}
	// An audit without findings is valid too.
	var empty bytes.Buffer
	s := NewSARIF(&empty, testMeta(t))
	if err := s.Close(NewSummary()); err != nil {
		t.Fatal(err)
	}
	if err := validate("empty", empty.String()); err != nil {
		t.Errorf("an empty SARIF log is not valid: %v", err)
	}
	// The schema rejects what it should: a result without a message.
	broken := strings.Replace(out, `"message": {`, `"messag": {`, 1)
	if err := validate("broken", broken); err == nil {
		t.Error("the schema accepted a result without a message; the validation proves nothing")
	}
	// Findings in manifests point at the line of the field they name.
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range log.Runs[0].Results {
		loc := r.Locations[0].PhysicalLocation
		if r.RuleID == "pss.baseline.privileged" {
			found = true
			// pods.yaml: the notebook's "privileged: true" line.
			if loc.ArtifactLocation.URI != "testdata/manifests/pods.yaml" || lineText(t, "testdata/manifests/pods.yaml", loc.Region.StartLine) != "privileged: true" {
				t.Errorf("pss.baseline.privileged at %s:%d (%q), want the privileged: true line", loc.ArtifactLocation.URI, loc.Region.StartLine, lineText(t, "testdata/manifests/pods.yaml", loc.Region.StartLine))
			}
		}
	}
	if !found {
		t.Error("no pss.baseline.privileged result")
	}
}

func lineText(t *testing.T, path string, n int) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSpace(lines[n-1])
}

// TestHTMLSelfContained: the page loads nothing from elsewhere.
func TestHTMLSelfContained(t *testing.T) {
	out, sum := render(t, "html")
	for _, bad := range []string{"<link", " src=", "@import", "url(", "http://", "https://"} {
		if strings.Contains(out, bad) {
			t.Errorf("the HTML report contains %q: it must be one self-contained file", bad)
		}
	}
	for _, want := range []string{
		`id="count-findings">` + itoa(sum.Findings) + "<",
		`id="count-objects">` + itoa(sum.Objects) + "<",
		`id="omitted"`, // MaxRows is below the fixtures' findings
		"How to fix:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the HTML report lacks %s", want)
		}
	}
	if n := strings.Count(out, `<tr class="finding"`); n != testMeta(t).MaxRows {
		t.Errorf("%d finding rows, want MaxRows (%d)", n, testMeta(t).MaxRows)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestReportObjectsDecode: the PolicyReport and OpenReports output is YAML
// documents of the kinds and API versions the CRDs serve (creating them in
// a real API server is the end-to-end suite's part).
func TestReportObjectsDecode(t *testing.T) {
	for _, tc := range []struct {
		format            string
		api               ReportAPI
		kind, clusterKind string
	}{
		{"policyreport", WGPolicy, "PolicyReport", "ClusterPolicyReport"},
		{"openreports", OpenReports, "Report", "ClusterReport"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			out, sum := render(t, tc.format)
			docs := strings.Split(out, "\n---\n")
			kinds := map[string]int{}
			fails := 0
			for _, d := range docs {
				var o ReportObject
				if err := yaml.UnmarshalStrict([]byte(d), &o); err != nil {
					t.Fatalf("%v\n%s", err, d)
				}
				kinds[o.Kind]++
				if o.APIVersion != tc.api.GroupVersion().String() || o.Metadata.Name != ReportName {
					t.Errorf("%s %s/%s: apiVersion %s", o.Kind, o.Metadata.Namespace, o.Metadata.Name, o.APIVersion)
				}
				if (o.Metadata.Namespace == "") != (o.Kind == tc.clusterKind) {
					t.Errorf("%s in namespace %q", o.Kind, o.Metadata.Namespace)
				}
				if tc.api.OpenReports != (o.Source == ReportSource) {
					t.Errorf("%s: source %q", o.Kind, o.Source)
				}
				fails += o.Summary.Fail
			}
			if kinds[tc.clusterKind] != 1 || kinds[tc.kind] != 2 {
				t.Errorf("report kinds %v, want one %s and two %s (ai-inference, legacy)", kinds, tc.clusterKind, tc.kind)
			}
			if fails != sum.ByAction["deny"] {
				t.Errorf("reports count %d fail results, the audit %d deny findings", fails, sum.ByAction["deny"])
			}
		})
	}
}
