package engine_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

func policy(id, reads, body string) string {
	imp := ""
	if strings.Contains(body, "lib.") {
		imp = "import data.acme.lib\n\n"
	}
	return `# METADATA
# title: t
# description: d
# custom:
#   id: ` + id + `
#   severity: low
#   action: warn
#   targets: [pod]
#   remediation: r
` + reads + `package acme.` + strings.ReplaceAll(strings.Split(id, ".")[1], "-", "_") + "\n\n" + imp + body + "\n"
}

const helpers = `package acme.lib

role := input.state.iam.role

kind := input.kind.kind
`

func build(t *testing.T, files map[string]string) (*engine.Engine, error) {
	t.Helper()
	fsys := fstest.MapFS{"lib.rego": {Data: []byte(helpers)}}
	for name, src := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	loaded, err := engine.Load(engine.Source{Name: "acme", FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(context.Background(), loaded, engine.Options{})
}

// A policy that declares custom.reads but reads more, directly or through
// a helper it calls, is refused when the bundle compiles.
func TestReadsAreVerified(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"direct", `violation contains "x" if input.kind.kind == "Pod"`, "reads input.kind.kind"},
		{"through a helper", `violation contains "x" if lib.kind == "Pod"`, "lib.rego:5 reads input.kind.kind"},
		{"a parent of the declared part", `violation contains "x" if input.state.other`, "reads input.state.other"},
		{"the whole input", `violation contains msg if msg := sprintf("%v", [input])`, "p.rego:13 reads input"},
		{"a dynamic key", `violation contains "x" if { some k; input[k] }`, "reads input[__local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, map[string]string{"p.rego": policy("acme.p", "#   reads: [state.iam]\n", tc.body)})
			if err == nil || !strings.Contains(err.Error(), "custom.reads [state.iam] does not hold") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
	if _, err := build(t, map[string]string{"p.rego": policy("acme.p", "#   reads: [state.iam]\n", `violation contains lib.role if input.state.iam.status == "ok"`)}); err != nil {
		t.Fatalf("a policy that keeps to its reads: %v", err)
	}
	if _, err := build(t, map[string]string{"p.rego": policy("acme.p", "#   reads: [state..iam]\n", `violation contains "x" if false`)}); err == nil || !strings.Contains(err.Error(), `custom.reads: "state..iam" is not a dotted path`) {
		t.Fatalf("a malformed read: %v", err)
	}
}

// Memoised findings are those a fresh evaluation gives: the same for every
// input with the same declared part, different when the part differs, and
// merged with the other policies' findings in policy-id order.
func TestMemoisedFindings(t *testing.T) {
	e, err := build(t, map[string]string{
		"a.rego": policy("acme.a-role", "#   reads: [state.iam]\n", `violation contains sprintf("role %s", [lib.role]) if input.state.iam.status == "ok"`),
		"b.rego": policy("acme.b-kind", "", `violation contains sprintf("kind %s", [lib.kind]) if true`),
		"c.rego": policy("acme.c-role", "#   reads: [state.iam]\n", `violation contains "unknown" if input.state.iam.status == "unknown"`),
	})
	if err != nil {
		t.Fatal(err)
	}
	eval := func(in string) []string {
		fs, err := e.Evaluate(context.Background(), engine.Selector{Target: engine.TargetPod}, ast.MustParseTerm(in).Value)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range fs {
			out = append(out, f.Policy.ID+": "+f.Message)
		}
		return out
	}
	for i, tc := range []struct {
		in           string
		want         string
		hits, misses int64
	}{
		{`{"kind": {"kind": "Pod"}, "state": {"iam": {"status": "ok", "role": "r1"}}}`, "acme.a-role: role r1|acme.b-kind: kind Pod", 0, 1},
		{`{"kind": {"kind": "Job"}, "state": {"iam": {"role": "r1", "status": "ok"}}}`, "acme.a-role: role r1|acme.b-kind: kind Job", 1, 1},
		{`{"kind": {"kind": "Pod"}, "state": {"iam": {"status": "ok", "role": "r2"}}}`, "acme.a-role: role r2|acme.b-kind: kind Pod", 1, 2},
		{`{"kind": {"kind": "Pod"}, "state": {"iam": {"status": "unknown"}}}`, "acme.b-kind: kind Pod|acme.c-role: unknown", 1, 3},
		{`{"kind": {"kind": "Pod"}}`, "acme.b-kind: kind Pod", 1, 4},
		{`{"kind": {"kind": "Pod"}, "state": {"quota": 1}}`, "acme.b-kind: kind Pod", 2, 4},
	} {
		if got := strings.Join(eval(tc.in), "|"); got != tc.want {
			t.Errorf("input %d: findings %q, want %q", i, got, tc.want)
		}
		if hits, misses := e.MemoStats(); hits != tc.hits || misses != tc.misses {
			t.Errorf("input %d: %d hits %d misses, want %d and %d", i, hits, misses, tc.hits, tc.misses)
		}
	}
}
