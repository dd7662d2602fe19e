// Package wiring builds the one engine and review path that `serve`, `eval`,
// `audit` and `test` share: the embedded bundle plus operator bundles, the
// configuration, the mutator chain and the state gatherers. Every command
// builds its reviewer here, so that none can evaluate differently.
package wiring

import (
	"context"
	"errors"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/gather"
	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/mutators"
	"github.com/tollgate-dev/tollgate/rego"
)

// Sources returns the embedded bundle and each operator bundle directory.
func Sources(bundles []string) ([]engine.Source, error) {
	srcs := []engine.Source{{Name: "embedded", FS: rego.FS, Builtin: true}}
	for _, dir := range bundles {
		info, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("bundle %s: not a directory", dir)
		}
		srcs = append(srcs, engine.Source{Name: dir, FS: os.DirFS(dir)})
	}
	return srcs, nil
}

// NewEngine loads and compiles the embedded bundle and the operator bundles
// with the configuration's parameters.
func NewEngine(ctx context.Context, cfg *config.Config, bundles []string) (*engine.Engine, error) {
	srcs, err := Sources(bundles)
	if err != nil {
		return nil, err
	}
	files, err := engine.Load(srcs...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", engine.ErrBundle, err)
	}
	v, err := engine.ParseVersion(cfg.PSS.Version)
	if err != nil {
		return nil, err
	}
	e, err := engine.New(ctx, files, engine.Options{Params: cfg.PolicyParams(), PSSLevel: cfg.PSS.Level, PSSVersion: v})
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckPolicyNames(e.Policies()); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return e, nil
}

// NewReviewer builds the review path over the given cluster state with
// Tollgate's mutators and state gatherers.
func NewReviewer(engines *engine.Holder, cfg *config.Config, st state.Reader, deps Deps, opts ...review.Option) (*review.Reviewer, error) {
	if engines == nil || engines.Load() == nil {
		return nil, errors.New("no policy engine")
	}
	deps, err := completeDeps(cfg, deps)
	if err != nil {
		return nil, err
	}
	cat, err := gpucatalog.Default()
	if err != nil {
		return nil, err
	}
	// One placement source for the mutators and the gatherer, so that the
	// NodePools and Nodes are parsed once per change.
	places, err := gather.NewPlacementSource(cfg.Validators)
	if err != nil {
		return nil, err
	}
	chain, err := mutators.NewChain(mutators.Options{
		Config:        cfg.Mutators,
		Catalog:       cat,
		Associations:  deps.Associations,
		ServerVersion: deps.ServerVersion,
		Placement:     places,
	})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	opts = append(opts,
		review.WithMutator(chain),
		// The quota, spot and nodepool state, then the IAM documents of
		// the role a pod will assume.
		review.WithGatherers(gather.Gatherers(cfg.Validators, &gather.Placement{
			Validators: cfg.Validators,
			Source:     places,
			Template: func(pod *corev1.Pod) {
				mutators.GPUTolerations(pod, &mutators.Env{Config: &cfg.Mutators, Catalog: cat})
			},
		})...),
		review.WithGatherers(&gather.IAM{
			Fetcher:  deps.IAM,
			Resolver: gather.PodIdentityResolver{Associations: deps.Associations},
		}),
	)
	return review.New(engines, cfg, st, opts...)
}
