package wiring

import (
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/gather"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// stateGatherers add the cluster state the quota, spot and nodepool
// policies read.
func stateGatherers(cfg *config.Config, _ Deps) []review.Gatherer {
	return gather.Gatherers(cfg.Validators)
}

// iamGatherers add the IAM documents of the role a pod will assume.
func iamGatherers(_ *config.Config, deps Deps) []review.Gatherer {
	return []review.Gatherer{&gather.IAM{
		Fetcher:  deps.IAM,
		Resolver: gather.PodIdentityResolver{Associations: deps.Associations},
	}}
}
