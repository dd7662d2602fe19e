package app

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/spf13/cobra"
	kjson "sigs.k8s.io/json"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/iam"
	"github.com/tollgate-dev/tollgate/internal/policytest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// testOptions are the flags of `tollgate test`.
type testOptions struct {
	policy   policyFlags
	run      string
	junit    string
	coverage bool
	verbose  bool
	noRego   bool
	now      nowFlag
}

// NewTestCommand runs Rego unit tests and YAML policy test suites.
func NewTestCommand(s IOStreams) *cobra.Command {
	o := &testOptions{}
	cmd := &cobra.Command{
		Use:   "test [PATH...]",
		Short: "Run the Rego unit tests of the bundles and the PolicyTest suites under PATH",
		Long: `Run policy tests with the engine that runs in the cluster: the *_test.rego
files of the embedded bundle and of every --bundle, and the YAML suites
(apiVersion: tollgate.dev/v1alpha1, kind: PolicyTest) found under each PATH.
Each case goes through the same review path as admission: mutation, then
validation, against the suite's cluster state.

Rego tests named todo_* are skipped and fail the run, as opa test does:
a test under development must not pass CI.

Exit codes: 0 every test passed, 1 a test failed or was skipped, 2 a suite
is malformed (the message names the file and line).`,
		RunE: func(cmd *cobra.Command, paths []string) error { return o.runTests(cmd.Context(), s, paths) },
	}
	o.policy.add(cmd.Flags())
	o.now.add(cmd.Flags())
	cmd.Flags().StringVar(&o.run, "run", "", "run only the cases (suite/case) and Rego tests (package.rule) matching this regular expression")
	cmd.Flags().StringVar(&o.junit, "junit", "", "write a JUnit XML report to this file")
	cmd.Flags().BoolVar(&o.coverage, "coverage", false, "report Rego coverage per policy and per family")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "list every Rego test, not only failures")
	cmd.Flags().BoolVar(&o.noRego, "no-rego", false, "run only the YAML suites")
	return cmd
}

// runTests loads every suite before running any, so that a malformed one
// stops the run before output starts; then runs the suites and the Rego
// tests, writes the reports and sets the exit code.
func (o *testOptions) runTests(ctx context.Context, s IOStreams, paths []string) error {
	var filter *regexp.Regexp
	if o.run != "" {
		var err error
		if filter, err = regexp.Compile(o.run); err != nil {
			return usageError(fmt.Errorf("--run: %w", err))
		}
	}
	cfg, e, err := o.policy.load(ctx)
	if err != nil {
		return err
	}
	suites, err := loadSuites(paths)
	if err != nil {
		return usageError(err)
	}
	start := time.Now()
	var total policytest.Totals
	var cases []policytest.CaseResult
	clock, err := o.now.options()
	if err != nil {
		return err
	}
	newReviewer := reviewerFactory(ctx, cfg, e, o.policy.bundles, clock...)
	for _, su := range suites {
		results, err := policytest.Run(ctx, su, newReviewer, filter)
		if err != nil {
			return usageError(err)
		}
		for _, r := range results {
			policytest.WriteCase(s.Out, r)
			if r.Passed() {
				total.Passed++
			} else {
				total.Failed++
			}
		}
		cases = append(cases, results...)
	}
	var rego []policytest.RegoResult
	if !o.noRego {
		var covs []policytest.Coverage
		if rego, covs, err = policytest.RunRego(ctx, e, o.run, o.coverage); err != nil {
			return usageError(err)
		}
		rt := policytest.WriteRego(s.Out, rego, o.verbose)
		total.Passed += rt.Passed
		total.Failed += rt.Failed
		total.Skipped += rt.Skipped
		if o.coverage {
			policytest.WriteCoverage(s.Out, covs)
		}
	}
	if o.junit != "" {
		if err := policytest.WriteJUnit(o.junit, cases, rego); err != nil {
			return err
		}
	}
	fmt.Fprintf(s.Out, "%d passed, %d failed, %d skipped (%.2fs)\n", total.Passed, total.Failed, total.Skipped, time.Since(start).Seconds())
	if total.Failed > 0 || total.Skipped > 0 {
		return &ExitError{Code: ExitFindings}
	}
	return nil
}

// loadSuites finds and parses every PolicyTest suite under paths.
func loadSuites(paths []string) ([]*policytest.Suite, error) {
	files, err := policytest.Find(paths)
	if err != nil {
		return nil, err
	}
	var suites []*policytest.Suite
	for _, f := range files {
		su, err := policytest.Load(f)
		if err != nil {
			return nil, err
		}
		suites = append(suites, su)
	}
	return suites, nil
}

// reviewerFactory builds the reviewer of a suite: the command's engine and
// configuration, or, when the suite overrides the configuration, both
// rebuilt with the override merged in.
func reviewerFactory(ctx context.Context, base *config.Config, e *engine.Engine, bundles []string, opts ...review.Option) policytest.NewReviewer {
	return func(st state.Reader, override map[string]any, iamPolicies string) (*review.Reviewer, error) {
		cfg, eng := base, e
		if len(override) > 0 {
			merged, err := mergeConfig(base, override)
			if err != nil {
				return nil, err
			}
			if eng, err = wiring.NewEngine(ctx, merged, bundles); err != nil {
				return nil, err
			}
			cfg = merged
		}
		var deps wiring.Deps
		if iamPolicies != "" {
			// Suites never call AWS: their IAM documents are a file.
			f, err := iam.New(ctx, cfg.IAM, iam.Wait, iam.WithOfflinePolicies(iamPolicies))
			if err != nil {
				return nil, err
			}
			deps.IAM = f
		}
		return wiring.NewReviewer(engine.NewHolder(eng), cfg, st, deps, opts...)
	}
}

// mergeConfig applies a suite's configuration override to the base, with
// the configuration file's strict rules.
func mergeConfig(base *config.Config, override map[string]any) (*config.Config, error) {
	b, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if err := engine.MergeInto(doc, override); err != nil {
		return nil, err
	}
	b, err = json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	out := &config.Config{}
	strictErrs, err := kjson.UnmarshalStrict(b, out)
	if err != nil {
		return nil, err
	}
	if len(strictErrs) > 0 {
		return nil, strictErrs[0]
	}
	return out, out.Validate()
}
