package engine_test

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/rego"
)

func TestEmbeddedBundleCompiles(t *testing.T) {
	files, err := engine.Load(engine.Source{Name: "embedded", FS: rego.FS, Builtin: true})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(context.Background(), files, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Policies()) == 0 {
		t.Fatal("no policies")
	}
	input := ast.MustParseTerm(`{"pss": {"version": 37, "level": "restricted"}, "pod": {"metadata": {"name": "x"}, "spec": {"hostNetwork": true, "containers": [{"name": "a", "securityContext": {"privileged": true}}]}}}`).Value
	fs, err := e.Evaluate(context.Background(), engine.Selector{Target: engine.TargetPod, Level: "restricted", Version: 37}, input)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		t.Logf("%s %v: %s @ %s", f.Policy.ID, e.PSSActive(f.Policy, "restricted", 37), f.Message, f.Path)
	}
}
