package policytest

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

// RegoResult is the outcome of one Rego test rule.
type RegoResult struct {
	Name     string // package.rule, without "data."
	File     string
	Line     int
	Duration time.Duration
	Failure  string // empty when it passed
	Skipped  bool
}

// Coverage is the share of a policy file's expressions that the Rego tests
// evaluated.
type Coverage struct {
	File     string
	Policy   string // policy id, or "" for helpers
	Family   string
	Percent  float64
	Covered  int
	Expected int
}

// RunRego runs the *_test.rego files of the sources with OPA's tester, the
// production modules compiled as the engine compiles them (strict, no
// print). filter selects tests by "package.rule" name; coverage adds a
// report per policy file.
func RunRego(ctx context.Context, e *engine.Engine, filter string, coverage bool) ([]RegoResult, []Coverage, error) {
	files := e.Files()
	modules := make(map[string]*ast.Module, len(files.Modules)+len(files.Tests))
	maps.Copy(modules, files.Modules)
	maps.Copy(modules, files.Tests)
	if len(files.Tests) == 0 {
		return nil, nil, nil
	}
	store := inmem.NewFromObject(files.Data)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer store.Abort(ctx, txn)
	compiler := ast.NewCompiler().WithCapabilities(engine.Capabilities()).WithStrict(true).WithEnablePrintStatements(false).WithUseTypeCheckAnnotations(true)
	runner := tester.NewRunner().SetCompiler(compiler).SetStore(store).SetModules(modules).EnableTracing(false)
	var cov *cover.Cover
	if coverage {
		cov = cover.New()
		runner = runner.SetCoverageQueryTracer(cov)
	}
	if filter != "" {
		runner = runner.Filter(filter)
	}
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return nil, nil, fmt.Errorf("compiling the Rego tests: %w", err)
	}
	var out []RegoResult
	for r := range ch {
		rr := RegoResult{Name: strings.TrimPrefix(r.Package, "data.") + "." + r.Name, Duration: r.Duration, Skipped: r.Skip}
		if r.Location != nil {
			rr.File, rr.Line = r.Location.File, r.Location.Row
		}
		switch {
		case r.Error != nil:
			rr.Failure = "error: " + r.Error.Error()
		case r.Fail:
			rr.Failure = "failed"
			if r.FailedAt != nil && r.FailedAt.Location != nil {
				rr.Failure = fmt.Sprintf("failed at %s:%d: %s", r.FailedAt.Location.File, r.FailedAt.Location.Row, r.FailedAt)
			}
		}
		out = append(out, rr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if cov == nil {
		return out, nil, nil
	}
	prod := make(map[string]*ast.Module, len(files.Modules))
	maps.Copy(prod, files.Modules)
	report := cov.Report(prod)
	byFile := map[string]*engine.Policy{}
	for _, p := range e.Policies() {
		byFile[p.File] = p
	}
	var covs []Coverage
	for _, name := range slices.Sorted(maps.Keys(report.Files)) {
		if engine.IsTestFile(name) {
			continue
		}
		fr := report.Files[name]
		c := Coverage{File: name, Percent: fr.Coverage, Covered: fr.CoveredLines, Expected: fr.CoveredLines + fr.NotCoveredLines}
		if p, ok := byFile[name]; ok {
			c.Policy, c.Family = p.ID, p.Family
		} else {
			// Helpers count toward the family whose directory holds them.
			c.Family, _, _ = strings.Cut(filepath.ToSlash(name), "/")
		}
		covs = append(covs, c)
	}
	return out, covs, nil
}

// FamilyCoverage sums coverage per policy family.
func FamilyCoverage(covs []Coverage) []Coverage {
	sum := map[string]*Coverage{}
	for _, c := range covs {
		f := sum[c.Family]
		if f == nil {
			f = &Coverage{Family: c.Family}
			sum[c.Family] = f
		}
		f.Covered += c.Covered
		f.Expected += c.Expected
	}
	var out []Coverage
	for _, name := range slices.Sorted(maps.Keys(sum)) {
		f := sum[name]
		if f.Expected > 0 {
			f.Percent = 100 * float64(f.Covered) / float64(f.Expected)
		}
		out = append(out, *f)
	}
	return out
}
