package app

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// run runs a command line in-process and returns stdout, stderr and the exit code.
func run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(args, IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	code := Code(err, &errOut)
	return out.String(), errOut.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output (go test ./cmd/tollgate/app -run %s -update to accept):\n%s", path, t.Name(), got)
	}
}

func TestEvalExamplesJSON(t *testing.T) {
	out, errOut, code := run(t, "", "eval", "-f", "../../../examples", "-o", "json")
	if code != ExitFindings {
		t.Fatalf("exit code %d, want %d (the unhardened pod is denied); stderr: %s", code, ExitFindings, errOut)
	}
	var doc struct {
		Results []struct {
			Object     map[string]string `json:"object"`
			Allowed    *bool             `json:"allowed"`
			Violations []map[string]any  `json:"violations"`
			Warnings   []string          `json:"warnings"`
			Patch      []map[string]any  `json:"patch"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not the eval JSON schema: %v\n%s", err, out)
	}
	if len(doc.Results) == 0 {
		t.Fatal("no results")
	}
	for _, r := range doc.Results {
		for _, k := range []string{"apiVersion", "kind", "name"} {
			if r.Object[k] == "" {
				t.Errorf("result object without %s: %v", k, r.Object)
			}
		}
		if r.Allowed == nil || r.Violations == nil || r.Warnings == nil || r.Patch == nil {
			t.Errorf("%v: allowed, violations, warnings and patch must always be present", r.Object)
		}
		for _, v := range r.Violations {
			for _, k := range []string{"policy", "severity", "action", "message"} {
				if s, _ := v[k].(string); s == "" {
					t.Errorf("%v: violation without %s: %v", r.Object, k, v)
				}
			}
		}
	}
	// The verdicts the examples exist to show, stated here so that a
	// regenerated golden file cannot quietly accept a changed one.
	want := map[string]struct {
		allowed bool
		mutated bool
		denied  []string
	}{
		"Bucket ai-inference/agentic-ai-models":   {true, false, nil},
		"Policy ai-inference/vllm-models":         {true, false, nil},
		"Role ai-inference/vllm-pod-role":         {true, false, nil},
		"Bucket ai-training/training-scratch":     {false, false, []string{"s3.encryption"}},
		"Role ai-training/nemo-training":          {false, false, []string{"iam.passrole-star", "iam.s3-resource-star", "iam.wildcard-action"}},
		"Pod tenant-a/tenant-a-inference":         {true, true, nil},
		"Job ai-training/nemo-finetune-llama-70b": {true, false, nil},
		"NodePool gpu-inference-pool":             {false, false, []string{"nodepool.gpu"}},
		"NodePool gpu-mig-pool":                   {true, false, nil},
		"NodePool gpu-training-pool":              {true, false, nil},
		"Job ai-training/llama-8b-lr-sweep":       {true, false, nil},
		"Deployment ai-inference/vllm":            {true, false, nil},
		"Pod ai-inference/vllm-unhardened": {false, true, []string{"pss.restricted.allowPrivilegeEscalation", "pss.restricted.capabilities_restricted",
			"pss.restricted.runAsNonRoot", "pss.restricted.seccompProfile_restricted",
			// A bare pod whose placement reaches gpu-inference-pool, which allows Spot.
			"spot.controller"}},
		"Pod ai-inference/vllm-7d9f8c6b5-x2k4q": {true, true, nil},
	}
	seen := map[string]bool{}
	for _, r := range doc.Results {
		name := r.Object["kind"] + " " + r.Object["name"]
		if ns := r.Object["namespace"]; ns != "" {
			name = r.Object["kind"] + " " + ns + "/" + r.Object["name"]
		}
		seen[name] = true
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected result for %s", name)
			continue
		}
		var denied []string
		for _, v := range r.Violations {
			if p := v["policy"].(string); v["action"] == "deny" && !slices.Contains(denied, p) {
				denied = append(denied, p)
			}
		}
		sort.Strings(denied)
		if *r.Allowed != w.allowed || (len(r.Patch) > 0) != w.mutated || !slices.Equal(denied, w.denied) {
			t.Errorf("%s: allowed %v, mutated %v, denied by %v; want %v, %v, %v", name, *r.Allowed, len(r.Patch) > 0, denied, w.allowed, w.mutated, w.denied)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no result for %s", name)
		}
	}
	golden(t, "eval-examples.json", out)
}

func TestEvalBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: c, image: i}]}\n")
	for _, tc := range []struct {
		name    string
		args    []string
		stdin   string
		message []string
	}{
		{"invalid yaml", []string{"-f", write("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [\n")}, "", []string{"bad.yaml:1 (document 1)", "invalid YAML"}},
		{"no kind", []string{"-f", good, "-f", write("nokind.yaml", "apiVersion: v1\nmetadata: {name: x}\n")}, "", []string{"nokind.yaml", "kind is missing"}},
		{"wrong type", []string{"-f", write("type.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, ports: [{containerPort: http}]}]}\n")}, "", []string{"type.yaml", "Pod p", "spec.containers.ports.containerPort"}},
		{"missing file", []string{"-f", filepath.Join(dir, "nope.yaml")}, "", []string{"nope.yaml", "no such file"}},
		{"stdin", []string{"-f", "-"}, "kind: Pod\n", []string{"-:1 (document 1)", "apiVersion is missing"}},
		{"no input", nil, "", []string{"no input"}},
		{"bad output", []string{"-f", good, "-o", "yaml"}, "", []string{"unknown output"}},
		{"bad pss version", []string{"-f", good, "--pss-version", "v2.1"}, "", []string{"invalid Pod Security Standards version"}},
		{"broken bundle", []string{"-f", good, "--bundle", writeBundle(t, "package acme.x\n\nviolation contains msg if {\n")}, "", []string{"policy.rego:", "rego_parse_error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, tc.stdin, append([]string{"eval"}, tc.args...)...)
			if code != ExitUsage {
				t.Errorf("exit code %d, want %d", code, ExitUsage)
			}
			if out != "" {
				t.Errorf("nothing may be printed on stdout on bad input; got:\n%s", out)
			}
			for _, m := range tc.message {
				if !strings.Contains(errOut, m) {
					t.Errorf("stderr %q does not mention %q", errOut, m)
				}
			}
		})
	}
}

func writeBundle(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEvalAllowedExitsZero(t *testing.T) {
	out, errOut, code := run(t, "", "eval", "-f", "../../../examples/vllm-deployment.yaml", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit code %d; stderr %s; stdout %s", code, errOut, out)
	}
}

func TestEvalOperatorBundle(t *testing.T) {
	bundle := writeBundle(t, `# METADATA
# title: Images are pinned
# description: Images must name a tag other than latest.
# custom:
#   id: acme.pinned-images
#   severity: medium
#   action: deny
#   targets: [pod, template]
#   remediation: Pin the image to a version tag or digest.
package acme.pinned

violation contains {"msg": sprintf("container %q uses :latest", [c.name]), "path": "spec.containers"} if {
	some c in input.pod.containers
	endswith(c.image, ":latest")
}
`)
	out, errOut, code := run(t, "", "eval", "-f", "../../../examples/vllm-pod-unhardened.yaml", "--bundle", bundle, "-o", "json")
	if code != ExitFindings || !strings.Contains(out, `"policy": "acme.pinned-images"`) {
		t.Fatalf("exit %d, operator policy not reported:\n%s\n%s", code, out, errOut)
	}
	out, _, code = run(t, "", "policies", "--bundle", bundle)
	if code != ExitOK || !strings.Contains(out, "acme.pinned-images") {
		t.Fatalf("policies does not list the operator policy (exit %d):\n%s", code, out)
	}
}

func TestPoliciesJSON(t *testing.T) {
	out, errOut, code := run(t, "", "policies", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var ps []map[string]any
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range ps {
		id, _ := p["id"].(string)
		if seen[id] {
			t.Errorf("duplicate id %s", id)
		}
		seen[id] = true
		for _, k := range []string{"title", "description", "severity", "action", "remediation"} {
			if s, _ := p[k].(string); s == "" {
				t.Errorf("%s: %s is empty", id, k)
			}
		}
	}
	if !seen["pss.restricted.runAsNonRoot"] {
		t.Error("pss.restricted.runAsNonRoot is not listed")
	}
}

func TestVersion(t *testing.T) {
	out, _, code := run(t, "", "version")
	if code != ExitOK || !strings.HasPrefix(out, "tollgate ") {
		t.Fatalf("exit %d: %q", code, out)
	}
}

// TestEvalListsWhatItDidNotReview: objects no policy judges are listed
// under notReviewed with their reason (state, a kind Tollgate does not
// review, an exempt namespace), and --fail-on-unreviewed makes them exit 1
// while state alone does not.
func TestEvalListsWhatItDidNotReview(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.yaml")
	if err := os.WriteFile(path, []byte(`apiVersion: v1
kind: Namespace
metadata: {name: serving}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: serving}
spec: {podSelector: {}}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns-x, namespace: kube-system}
spec: {containers: [{name: c, image: "registry.k8s.io/coredns/coredns:v1.11.3"}]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "", "eval", "-f", path, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc EvalOutput
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	want := []NotReviewed{
		{APIVersion: "v1", Kind: "Namespace", Name: "serving", Reason: "state"},
		{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "serving", Name: "allow-dns", Reason: "kind not reviewed"},
		{APIVersion: "v1", Kind: "Pod", Namespace: "kube-system", Name: "coredns-x", Reason: "exempt namespace"},
	}
	if !slices.Equal(doc.NotReviewed, want) {
		t.Errorf("notReviewed %+v\nwant %+v", doc.NotReviewed, want)
	}
	if _, _, code := run(t, "", "eval", "-f", path, "--fail-on-unreviewed"); code != ExitFindings {
		t.Errorf("--fail-on-unreviewed: exit %d, want %d", code, ExitFindings)
	}
	if table, _, _ := run(t, "", "eval", "-f", path); !strings.Contains(table, "Not reviewed (2):\n  NetworkPolicy serving/allow-dns: kind not reviewed\n  Pod kube-system/coredns-x: exempt namespace") {
		t.Errorf("the table does not list them:\n%s", table)
	}
	state := filepath.Join(dir, "state.yaml")
	if err := os.WriteFile(state, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: serving}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, "", "eval", "-f", state, "--fail-on-unreviewed"); code != 0 {
		t.Errorf("state alone with --fail-on-unreviewed: exit %d: %s", code, errOut)
	}
}
