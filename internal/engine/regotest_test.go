package engine_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/rego"
)

// TestRegoUnitTests runs the *_test.rego files of the embedded bundle with
// OPA's test runner, as `opa test rego/` does, with the production modules
// compiled the way the engine compiles them (Tollgate's capabilities, strict, no print). Each Rego
// test is a subtest; todo_test_* rules are reported as skipped.
func TestRegoUnitTests(t *testing.T) {
	ctx := context.Background()
	files, err := engine.Load(engine.Source{Name: "embedded", FS: rego.FS, Builtin: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(files.Tests) == 0 {
		t.Fatal("the embedded bundle has no *_test.rego files")
	}
	modules := make(map[string]*ast.Module, len(files.Modules)+len(files.Tests))
	maps.Copy(modules, files.Modules)
	maps.Copy(modules, files.Tests)

	store := inmem.NewFromObject(files.Data)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Abort(ctx, txn)

	compiler := ast.NewCompiler().
		WithCapabilities(engine.Capabilities()).
		WithStrict(true).
		WithEnablePrintStatements(false).
		WithUseTypeCheckAnnotations(true)
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetModules(modules).
		EnableTracing(false)
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		t.Fatalf("compiling the Rego tests: %v", err)
	}
	var results []*tester.Result
	for r := range ch {
		results = append(results, r)
	}
	slices.SortFunc(results, func(a, b *tester.Result) int {
		return strings.Compare(a.Package+"."+a.Name, b.Package+"."+b.Name)
	})

	ran, skipped := 0, 0
	for _, r := range results {
		if r.Skip {
			skipped++
		} else {
			ran++
		}
		t.Run(strings.TrimPrefix(r.Package, "data.")+"."+r.Name, func(t *testing.T) {
			switch {
			case r.Skip:
				t.Skipf("%s: todo", location(r.Location))
			case r.Error != nil:
				t.Errorf("%s: %s.%s: error: %v", location(r.Location), r.Package, r.Name, r.Error)
			case r.Fail:
				msg := fmt.Sprintf("%s: %s.%s: failed", location(r.Location), r.Package, r.Name)
				if r.FailedAt != nil {
					msg += fmt.Sprintf(" at %s: %s", location(r.FailedAt.Location), r.FailedAt)
				}
				t.Error(msg)
			}
		})
	}
	if ran == 0 {
		t.Fatalf("no Rego test ran (%d skipped)", skipped)
	}
	t.Logf("Rego tests: %d ran, %d skipped", ran, skipped)
}

// location names a position in the embedded bundle relative to the
// repository root (the bundle is the rego/ directory).
func location(loc *ast.Location) string {
	if loc == nil || loc.File == "" {
		return loc.String()
	}
	return fmt.Sprintf("rego/%s:%d", loc.File, loc.Row)
}
