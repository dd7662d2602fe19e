package bench

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/tollgate-dev/tollgate/internal/controlplane"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// TestMain gives the package's tests a directory for the configuration
// NewEnv writes.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tollgate-bench-test-")
	if err != nil {
		panic(err)
	}
	fixture.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var fixture struct {
	dir      string
	once     sync.Once
	corpus   Corpus
	env      *Env
	deciders *Deciders
	err      error
}

// setup loads the corpus and builds the deciders once for the package.
func setup(t *testing.T) (Corpus, *Env, *Deciders) {
	t.Helper()
	fixture.once.Do(func() {
		root, err := controlplane.RepoRoot()
		if err != nil {
			fixture.err = err
			return
		}
		if fixture.corpus, err = LoadCorpus(root); err != nil {
			fixture.err = err
			return
		}
		if fixture.env, err = NewEnv(root, fixture.dir); err != nil {
			fixture.err = err
			return
		}
		fixture.deciders, fixture.err = NewDeciders(context.Background(), fixture.env)
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.corpus, fixture.env, fixture.deciders
}

func entry(t *testing.T, c Corpus, name string) *Entry {
	t.Helper()
	for _, e := range c {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no corpus entry %s", name)
	return nil
}

// The corpus holds every pod and workload of the examples, each workload's
// pod, and the generated 1- and 20-container pods, each in a well-formed
// CREATE AdmissionReview carrying its object.
func TestCorpus(t *testing.T) {
	c, _, _ := setup(t)
	var names []string
	for _, e := range c {
		names = append(names, e.Name)
		o, err := e.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if review.TargetOf(o) == "" {
			t.Errorf("%s: Tollgate does not review it", e.Name)
		}
		var ar admissionv1.AdmissionReview
		if err := json.Unmarshal(e.Review, &ar); err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		if ar.Request == nil || ar.Request.Operation != admissionv1.Create || ar.Request.UID == "" || ar.Request.Namespace != e.Namespace ||
			string(ar.Request.Object.Raw) != string(e.Object) || ar.Request.Kind.Kind != e.Kind {
			t.Errorf("%s: AdmissionReview %s does not carry the object's CREATE", e.Name, e.Review)
		}
	}
	for _, want := range []string{"pod/vllm-1c", "pod/vllm-20c", "pod/vllm-unhardened", "pod/tenant-a-inference",
		"deployment/vllm", "pod/vllm-5d9c7b8f6-x2x7q", "job/nemo-finetune-llama-70b", "pod/nemo-finetune-llama-70b-0"} {
		if !slices.Contains(names, want) {
			t.Errorf("corpus %v has no %s", names, want)
		}
	}
	if n := entry(t, c, "pod/vllm-20c").Containers; n != 20 {
		t.Errorf("pod/vllm-20c has %d containers", n)
	}
}

// The input dumper returns the document the policies see.
func TestInputDocument(t *testing.T) {
	c, _, d := setup(t)
	in, err := d.Dumper.Input(context.Background(), entry(t, c, "pod/vllm-1c"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Kind struct{ Kind string }
		Pod  struct {
			Containers     []json.RawMessage
			ContainerPaths []string
		}
		PSS struct {
			Level   string
			Version int
		}
		State map[string]json.RawMessage
	}
	if err := json.Unmarshal(in, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Kind.Kind != "Pod" || len(doc.Pod.Containers) != 1 || doc.Pod.ContainerPaths[0] != "spec.containers[0]" ||
		doc.PSS.Level != "restricted" || doc.PSS.Version != int(engine.LatestPSSVersion) || doc.State["iam"] == nil {
		t.Errorf("input document %s is not Tollgate's for a restricted GPU pod with an IAM role", in)
	}
}

// `opa run --server` is given the same decision Tollgate's PSS query holds:
// evaluated by OPA on Tollgate's input documents, it finds the same checks
// violated as Tollgate's PSS review.
func TestOPABundleAgreesWithTollgate(t *testing.T) {
	c, env, d := setup(t)
	dir := t.TempDir()
	if err := WriteOPABundle(dir, d.PSSEngine, env.Config.PSS.Level, engine.LatestPSSVersion); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pq, err := rego.New(rego.Query("data.tollgate.bench.violations"), rego.Load([]string{dir}, nil)).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range c {
		in, err := d.Dumper.Input(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		var input any
		if err := json.Unmarshal(in, &input); err != nil {
			t.Fatal(err)
		}
		rs, err := pq.Eval(ctx, rego.EvalInput(input))
		if err != nil || len(rs) != 1 {
			t.Fatalf("%s: %d results, %v", e.Name, len(rs), err)
		}
		var byOPA []string
		for id, vs := range rs[0].Expressions[0].Value.(map[string]any) {
			if len(vs.([]any)) > 0 {
				byOPA = append(byOPA, id)
			}
		}
		sort.Strings(byOPA)
		o, err := e.Decode()
		if err != nil {
			t.Fatal(err)
		}
		res, err := d.PSS.Review(ctx, &review.Request{Object: o, Operation: "CREATE"})
		if err != nil {
			t.Fatal(err)
		}
		var byTollgate []string
		for _, v := range res.Violations {
			if strings.HasPrefix(v.Policy, "pss.") && !slices.Contains(byTollgate, v.Policy) {
				byTollgate = append(byTollgate, v.Policy)
			}
		}
		sort.Strings(byTollgate)
		if !slices.Equal(byOPA, byTollgate) {
			t.Errorf("%s: OPA finds %v, Tollgate %v", e.Name, byOPA, byTollgate)
		}
	}
}

// Layer 1 runs on the whole corpus, and Tollgate's PSS verdicts match
// upstream's.
func TestInProcess(t *testing.T) {
	c, _, d := setup(t)
	bt := flag.Lookup("test.benchtime")
	prev := bt.Value.String()
	if err := flag.Set("test.benchtime", "1x"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = flag.Set("test.benchtime", prev) }()
	rows, err := RunInProcess(context.Background(), d, c, 1, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(c) {
		t.Fatalf("%d rows for %d entries", len(rows), len(c))
	}
	for _, r := range rows {
		if r.Full == nil || r.PSS == nil || r.PSSEval == nil || r.Upstream == nil || r.Decode == nil || (r.Kind == "Pod") != (r.Mutate != nil) {
			t.Errorf("%s: a measurement is missing: %+v", r.Entry, r)
		}
		if r.PSSVerdict != r.UpstreamVerdict {
			t.Errorf("%s: Tollgate's PSS verdict %s, upstream's %s", r.Entry, r.PSSVerdict, r.UpstreamVerdict)
		}
	}
	if tot := CorpusTotals(rows); tot.PSS.NsPerOp <= 0 || tot.Upstream.NsPerOp <= 0 {
		t.Errorf("corpus totals %+v", tot)
	}
}

// Allocations per decision are deterministic for a given input, so they are
// guarded: a change that makes a decision allocate much more fails here.
// The ceilings are about 1.5 times the counts when they were set (see
// docs/performance.md); lower them as the engine improves.
func TestDecisionAllocations(t *testing.T) {
	c, _, d := setup(t)
	e := entry(t, c, "pod/vllm-1c")
	p, err := d.prepare(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		ceiling float64
		decide  func() error
	}{
		{"PSS-only review", 15, func() error { _, err := d.PSS.Review(ctx, p.request(false)); return err }},
		{"PSS-only evaluation", 1000, func() error { _, err := d.PSSEngine.Evaluate(ctx, p.sel, p.input); return err }},
		{"full review", 3100, func() error { _, err := d.Full.Review(ctx, p.request(false)); return err }},
	} {
		var failed error
		n := testing.AllocsPerRun(20, func() {
			if err := tc.decide(); err != nil {
				failed = err
			}
		})
		if failed != nil {
			t.Fatal(failed)
		}
		t.Logf("%s of %s: %.0f allocations", tc.name, e.Name, n)
		if n > tc.ceiling {
			t.Errorf("%s of %s allocates %.0f times, above the guard of %.0f", tc.name, e.Name, n, tc.ceiling)
		}
	}
}

func TestProfileParts(t *testing.T) {
	for s, want := range map[string]float64{"10ms": 0.01, "1.5s": 1.5, "650.62kB": 650.62 * 1024, "144B": 144, "2": 2} {
		if got, ok := quantity(s); !ok || got != want {
			t.Errorf("quantity(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	if _, ok := quantity("3 apples"); ok {
		t.Error("quantity accepted a unit pprof does not print")
	}
	eval := []string{"runtime.mallocgc", "github.com/open-policy-agent/opa/v1/topdown.(*eval).biunify", "github.com/tollgate-dev/tollgate/internal/review.(*Reviewer).Review"}
	if got := parts[classify(eval)].name; !strings.HasPrefix(got, "Rego evaluation") {
		t.Errorf("an allocation inside evaluation counts for %q", got)
	}
	parse := []string{"github.com/tollgate-dev/tollgate/internal/astjson.(*parser).object", "github.com/tollgate-dev/tollgate/internal/review.(*Reviewer).input"}
	if got := parts[classify(parse)].name; !strings.Contains(got, "astjson") {
		t.Errorf("parsing the object counts for %q", got)
	}
	if got := classify([]string{"main.main"}); got != len(parts) {
		t.Errorf("an unknown stack counts for part %d", got)
	}
}

// BenchmarkDecisions is layer 1 as a go benchmark, for profiling one path:
//
//	go test ./conformance/bench -run '^$' -bench 'Decisions/full/pod/vllm-1c' -cpuprofile cpu.out
func BenchmarkDecisions(b *testing.B) {
	t := &testing.T{}
	c, _, d := setup(t)
	ctx := context.Background()
	for _, e := range c {
		p, err := d.prepare(ctx, e)
		if err != nil {
			b.Fatal(err)
		}
		paths := []struct {
			name   string
			decide func() error
		}{
			{"full", func() error { _, err := d.Full.Review(ctx, p.request(false)); return err }},
			{"pss", func() error { _, err := d.PSS.Review(ctx, p.request(false)); return err }},
			{"pss-eval", func() error { _, err := d.PSSEngine.Evaluate(ctx, p.sel, p.input); return err }},
		}
		if e.Kind == "Pod" {
			paths = append(paths, struct {
				name   string
				decide func() error
			}{"mutate", func() error { _, err := d.Full.Review(ctx, p.request(true)); return err }})
		}
		for _, path := range paths {
			b.Run(path.name+"/"+e.Name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := path.decide(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
