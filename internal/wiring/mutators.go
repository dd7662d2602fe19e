package wiring

import (
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// mutatorChain builds the pod mutator chain from the configuration.
func mutatorChain(*config.Config, Deps) (review.Mutator, error) { return nil, nil }
