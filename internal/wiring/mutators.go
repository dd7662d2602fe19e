package wiring

import (
	"context"
	"fmt"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/podidentity"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/mutators"
)

// mutatorChain builds the pod mutator chain from the configuration.
func mutatorChain(cfg *config.Config, deps Deps) (review.Mutator, error) {
	cat, err := catalog.Default()
	if err != nil {
		return nil, err
	}
	chain, err := mutators.NewChain(mutators.Options{
		Config:        cfg.Mutators,
		Catalog:       cat,
		Associations:  deps.Associations,
		ServerVersion: deps.ServerVersion,
	})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return chain, nil
}

// completeDeps fills what the command left out: the Pod Identity
// associations, from the EKS API (when enabled) and then the configuration.
func completeDeps(cfg *config.Config, deps Deps) (Deps, error) {
	if deps.Associations != nil {
		return deps, nil
	}
	c := cfg.Mutators.Credentials
	var sources podidentity.First
	if c.EKS.Enabled {
		client, err := podidentity.NewEKSClient(context.Background(), c.EKS.Region, c.EKS.InstanceMetadata)
		if err != nil {
			return deps, err
		}
		src := podidentity.NewEKS(client, podidentity.EKSOptions{
			ClusterName:     c.EKS.ClusterName,
			RefreshInterval: c.EKS.RefreshInterval.Duration,
			Timeout:         c.EKS.Timeout.Duration,
		})
		src.Start()
		sources = append(sources, src)
	}
	if len(c.Associations) > 0 {
		sources = append(sources, podidentity.Static(c.Associations))
	}
	if len(sources) > 0 {
		deps.Associations = sources
	}
	return deps, nil
}

// ServerVersion reads the API server's version ("1.31") for the drain
// mutator's choice of preStop action.
func ServerVersion(rc *rest.Config) (string, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return "", fmt.Errorf("reading the API server version: %w", err)
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return "", fmt.Errorf("reading the API server version: %w", err)
	}
	return info.Major + "." + info.Minor, nil
}
