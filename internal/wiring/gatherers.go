package wiring

import (
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// stateGatherers add the cluster state the quota, spot and nodepool
// policies read.
func stateGatherers(*config.Config, Deps) []review.Gatherer { return nil }

// iamGatherers add the IAM documents of the role a pod will assume.
func iamGatherers(*config.Config, Deps) []review.Gatherer { return nil }
