package gather_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// TestMetadataExamplesViolate checks that the METADATA example of every
// quota, spot and nodepool policy is a manifest that the policy reports:
// the documentation must show a real violation. State objects in an
// example (a Namespace with its annotations) form its cluster state, as in
// `tollgate eval`.
func TestMetadataExamplesViolate(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	e, err := wiring.NewEngine(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range e.Policies() {
		if p.Family != "quota" && p.Family != "spot" && p.Family != "nodepool" {
			continue
		}
		n++
		t.Run(p.ID, func(t *testing.T) {
			if strings.TrimSpace(p.Example) == "" {
				t.Fatalf("%s has no METADATA example", p.File)
			}
			docs, errs := manifest.Parse(p.File+" example", []byte(p.Example), true)
			if len(errs) > 0 {
				t.Fatalf("%s: example: %v", p.File, errs)
			}
			st := state.NewStatic()
			for _, d := range docs {
				if state.IsState(d.Object) {
					st.Add(d.Object)
				}
			}
			r, err := wiring.NewReviewer(engine.NewHolder(e), cfg, st, wiring.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			reported := false
			for _, d := range docs {
				if review.TargetOf(d.Object) == "" || !p.AppliesTo(review.TargetOf(d.Object)) {
					continue
				}
				res, err := r.Review(ctx, &review.Request{Object: d.Object, Operation: "CREATE"})
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range res.Violations {
					reported = reported || v.Policy == p.ID
				}
			}
			if !reported {
				t.Errorf("%s: the example does not violate %s", p.File, p.ID)
			}
		})
	}
	if n != 17 {
		t.Errorf("%d quota, spot and nodepool policies, want 17", n)
	}
}
