package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// Measure is one benchmark's cost per operation.
type Measure struct {
	NsPerOp     float64 `json:"nsPerOp"`
	AllocsPerOp int64   `json:"allocsPerOp"`
	BytesPerOp  int64   `json:"bytesPerOp"`
	N           int     `json:"n"`
}

func measure(f func(b *testing.B)) *Measure {
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		f(b)
	})
	if r.N == 0 {
		return nil
	}
	return &Measure{NsPerOp: float64(r.T.Nanoseconds()) / float64(r.N), AllocsPerOp: r.AllocsPerOp(), BytesPerOp: r.AllocedBytesPerOp(), N: r.N}
}

// InProcessRow is the cost of one corpus entry's decisions.
type InProcessRow struct {
	Entry      string `json:"entry"`
	Kind       string `json:"kind"`
	Containers int    `json:"containers"`
	// Verdict is the full review's: allowed, or denied with the denying
	// policies' count.
	Verdict string `json:"verdict"`
	// PSSVerdict is Tollgate's PSS-only verdict; UpstreamVerdict upstream's.
	PSSVerdict      string `json:"pssVerdict"`
	UpstreamVerdict string `json:"upstreamVerdict"`
	// Decode is kubeobjects.Decode, which every webhook request pays first.
	Decode *Measure `json:"decode"`
	// Full is a validating review with every policy (the /validate path
	// after decoding).
	Full *Measure `json:"full"`
	// Mutate is the /mutate path after decoding: the mutator chain, and a
	// validating review of the mutated pod when it changed. Pods only.
	Mutate *Measure `json:"mutate,omitempty"`
	// PSS is a validating review by the PSS-only engine (input built from
	// the object, evaluation, actions).
	PSS *Measure `json:"pss"`
	// PSSEval is the PSS-only engine's Evaluate alone, on a prebuilt input.
	PSSEval *Measure `json:"pssEval"`
	// Upstream is k8s.io/pod-security-admission's EvaluatePod and
	// AggregateCheckResults at the same level and version.
	Upstream *Measure `json:"upstream"`
}

// Ratio is PSS / Upstream.
func (r *InProcessRow) Ratio() float64 {
	if r.PSS == nil || r.Upstream == nil || r.Upstream.NsPerOp == 0 {
		return 0
	}
	return r.PSS.NsPerOp / r.Upstream.NsPerOp
}

// Deciders are what layer 1 measures, built once.
type Deciders struct {
	Full      *review.Reviewer
	PSS       *review.Reviewer
	PSSEngine *engine.Engine
	Dumper    *InputDumper
	Upstream  policy.Evaluator
	Level     api.LevelVersion
}

// NewDeciders builds the full and PSS-only review paths, the input dumper
// and upstream's evaluator at the configured level and latest version.
func NewDeciders(ctx context.Context, env *Env) (*Deciders, error) {
	full, err := env.FullReviewer(ctx)
	if err != nil {
		return nil, fmt.Errorf("full review path: %w", err)
	}
	pe, err := env.PSSEngine(ctx)
	if err != nil {
		return nil, fmt.Errorf("PSS-only engine: %w", err)
	}
	pr, err := env.PSSReviewer(pe)
	if err != nil {
		return nil, err
	}
	dumper, err := env.NewInputDumper(ctx)
	if err != nil {
		return nil, fmt.Errorf("input dumper: %w", err)
	}
	up, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, err
	}
	level, err := api.ParseLevel(env.Config.PSS.Level)
	if err != nil {
		return nil, err
	}
	return &Deciders{Full: full, PSS: pr, PSSEngine: pe, Dumper: dumper, Upstream: up,
		Level: api.LevelVersion{Level: level, Version: api.LatestVersion()}}, nil
}

// userOf returns the requesting user of an entry's AdmissionReview.
func userOf(e *Entry) authenticationv1.UserInfo {
	var ar struct {
		Request struct {
			UserInfo authenticationv1.UserInfo `json:"userInfo"`
		} `json:"request"`
	}
	_ = json.Unmarshal(e.Review, &ar)
	return ar.Request.UserInfo
}

// prepared is one entry ready to be decided again and again.
type prepared struct {
	e     *Entry
	o     *kubeobjects.Object
	user  authenticationv1.UserInfo
	input ast.Value
	sel   engine.Selector
}

func (d *Deciders) prepare(ctx context.Context, e *Entry) (*prepared, error) {
	o, err := e.Decode()
	if err != nil {
		return nil, err
	}
	doc, err := d.Dumper.Input(ctx, e)
	if err != nil {
		return nil, err
	}
	v, err := ast.ValueFromReader(strings.NewReader(string(doc)))
	if err != nil {
		return nil, fmt.Errorf("%s: parsing its input document: %w", e.Name, err)
	}
	sel := engine.Selector{Target: review.TargetOf(o), Level: string(d.Level.Level), Version: engine.LatestPSSVersion}
	var in struct {
		PSS struct {
			Level string `json:"level"`
		} `json:"pss"`
	}
	if err := json.Unmarshal(doc, &in); err != nil {
		return nil, fmt.Errorf("%s: parsing its input document: %w", e.Name, err)
	}
	if in.PSS.Level != "" {
		sel.Level = in.PSS.Level
	}
	return &prepared{e: e, o: o, user: userOf(e), input: v, sel: sel}, nil
}

func (p *prepared) request(mutate bool) *review.Request {
	return &review.Request{Object: p.o, Operation: "CREATE", User: p.user, Mutate: mutate}
}

func verdict(res *review.Result, prefix string) string {
	denied := 0
	for _, v := range res.Denied() {
		if strings.HasPrefix(v.Policy, prefix) {
			denied++
		}
	}
	if denied == 0 {
		return "allowed"
	}
	return fmt.Sprintf("denied (%d)", denied)
}

// RunInProcess benchmarks every entry of the corpus with testing.Benchmark
// (its -test.benchtime applies to each round).
func RunInProcess(ctx context.Context, d *Deciders, c Corpus, rounds int, progress func(string)) ([]*InProcessRow, error) {
	var rows []*InProcessRow
	for _, e := range c {
		p, err := d.prepare(ctx, e)
		if err != nil {
			return nil, err
		}
		row := &InProcessRow{Entry: e.Name, Kind: e.Kind, Containers: e.Containers}
		full, err := d.Full.Review(ctx, p.request(false))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		row.Verdict = verdict(full, "")
		pss, err := d.PSS.Review(ctx, p.request(false))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		row.PSSVerdict = verdict(pss, "pss.")
		meta, spec := PodSpec(p.o)
		row.UpstreamVerdict = "allowed"
		if n := upstreamDenials(d.Upstream.EvaluatePod(d.Level, meta, spec)); n > 0 {
			row.UpstreamVerdict = fmt.Sprintf("denied (%d)", n)
		}
		progress(e.Name)

		var failure error
		fail := func(b *testing.B, err error) {
			if failure == nil {
				failure = fmt.Errorf("%s: %w", e.Name, err)
			}
			b.SkipNow()
		}
		variants := []struct {
			dst *(*Measure)
			f   func(b *testing.B)
		}{
			{&row.Decode, func(b *testing.B) {
				for b.Loop() {
					if _, err := kubeobjects.Decode(e.Object, false); err != nil {
						fail(b, err)
					}
				}
			}},
			{&row.Full, func(b *testing.B) {
				for b.Loop() {
					if _, err := d.Full.Review(ctx, p.request(false)); err != nil {
						fail(b, err)
					}
				}
			}},
			{&row.Mutate, func(b *testing.B) {
				for b.Loop() {
					if _, err := d.Full.Mutate(ctx, p.request(true)); err != nil {
						fail(b, err)
					}
				}
			}},
			{&row.PSS, func(b *testing.B) {
				for b.Loop() {
					if _, err := d.PSS.Review(ctx, p.request(false)); err != nil {
						fail(b, err)
					}
				}
			}},
			{&row.PSSEval, func(b *testing.B) {
				for b.Loop() {
					if _, err := d.PSSEngine.Evaluate(ctx, p.sel, p.input); err != nil {
						fail(b, err)
					}
				}
			}},
			{&row.Upstream, func(b *testing.B) {
				for b.Loop() {
					policy.AggregateCheckResults(d.Upstream.EvaluatePod(d.Level, meta, spec))
				}
			}},
		}
		// Rounds interleave the variants and each keeps its fastest
		// round: other work on a shared machine only ever slows a round
		// down, and it then weighs on Tollgate and upstream alike.
		for range max(rounds, 1) {
			for _, v := range variants {
				if v.dst == &row.Mutate && !e.IsPod() {
					continue
				}
				m := measure(v.f)
				if m != nil && (*v.dst == nil || m.NsPerOp < (*v.dst).NsPerOp) {
					*v.dst = m
				}
			}
		}
		if failure != nil {
			return nil, failure
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func upstreamDenials(rs []policy.CheckResult) int {
	n := 0
	for _, r := range rs {
		if !r.Allowed {
			n++
		}
	}
	return n
}

// CorpusTotals sums per-operation costs over the entries (each entry once),
// for the corpus row and the PSS ratio.
func CorpusTotals(rows []*InProcessRow) *InProcessRow {
	t := &InProcessRow{Entry: "corpus (sum)"}
	add := func(dst **Measure, m *Measure) {
		if m == nil {
			return
		}
		if *dst == nil {
			*dst = &Measure{}
		}
		(*dst).NsPerOp += m.NsPerOp
		(*dst).AllocsPerOp += m.AllocsPerOp
		(*dst).BytesPerOp += m.BytesPerOp
	}
	for _, r := range rows {
		t.Containers += r.Containers
		add(&t.Decode, r.Decode)
		add(&t.Full, r.Full)
		add(&t.Mutate, r.Mutate)
		add(&t.PSS, r.PSS)
		add(&t.PSSEval, r.PSSEval)
		add(&t.Upstream, r.Upstream)
	}
	return t
}

// DecisionLoop returns a function that reviews every entry once with r, for
// profiles.
func DecisionLoop(ctx context.Context, d *Deciders, c Corpus, pssOnly bool) (func() error, error) {
	var ps []*prepared
	for _, e := range c {
		p, err := d.prepare(ctx, e)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	r := d.Full
	if pssOnly {
		r = d.PSS
	}
	return func() error {
		var errs []error
		for _, p := range ps {
			if _, err := r.Review(ctx, p.request(false)); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}, nil
}
