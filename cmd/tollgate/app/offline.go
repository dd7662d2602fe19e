package app

import (
	"context"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/iam"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// offlineReviewer loads the manifests of eval and audit -f and builds the
// review path they run: the cluster state is every object of the --state
// files and the state kinds among the manifests, and IAM lookups wait for
// their answer (up to iam.waitTimeout), since there is no admission
// deadline, or come from an offline --iam-policies file.
func offlineReviewer(ctx context.Context, s IOStreams, cfg *config.Config, e *engine.Engine, files, states []string, iamPolicies string, opts ...review.Option) ([]manifest.Document, *review.Reviewer, error) {
	docs, err := manifest.Load(files, manifest.Options{Stdin: s.In, Strict: true})
	if err != nil {
		return nil, nil, usageError(err)
	}
	stateDocs, err := manifest.Load(states, manifest.Options{Stdin: s.In, Strict: true})
	if err != nil {
		return nil, nil, usageError(err)
	}
	fetcher, err := iam.New(ctx, cfg.IAM, iam.Wait, iam.WithOfflinePolicies(iamPolicies))
	if err != nil {
		return nil, nil, usageError(err)
	}
	r, err := wiring.NewReviewer(engine.NewHolder(e), cfg, staticState(stateDocs, docs), wiring.Deps{IAM: fetcher}, opts...)
	if err != nil {
		return nil, nil, err
	}
	return docs, r, nil
}

// staticState is the cluster state given by files: every object of
// stateDocs, and the state kinds (Namespaces, quotas, ...) among docs.
func staticState(stateDocs, docs []manifest.Document) *state.Static {
	st := state.NewStatic()
	for _, d := range stateDocs {
		if !d.Skipped {
			st.Add(d.Object)
		}
	}
	for _, d := range docs {
		if !d.Skipped && state.IsState(d.Object) {
			st.Add(d.Object)
		}
	}
	return st
}
