package wiring

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/iam"
	"github.com/tollgate-dev/tollgate/internal/podidentity"
)

// Deps are the long-lived clients a reviewer uses besides cluster state,
// created once per process by the command that builds the reviewer.
type Deps struct {
	// Associations are the Pod Identity associations the credentials
	// mutator (and the IAM checks, through podidentity.Lookup) read. Nil:
	// NewReviewer builds them from the configuration (the EKS API when
	// mutators.credentials.eks is enabled, then the configured ones).
	Associations podidentity.Associations
	// ServerVersion is the API server's version ("1.31"), read by serve;
	// the drain mutator picks its preStop action by it.
	ServerVersion string
	// IAM reads the IAM documents of the role a pod will assume (the IAM
	// API through its cache, or an offline file). Nil: pods with a role
	// get iam.unknown; ACK Roles and Policies are checked all the same.
	IAM *iam.Fetcher
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
	if off := deps.IAM.OfflineAssociations(); len(off) > 0 {
		// The associations of an offline IAM policies file (eval
		// --iam-policies, PolicyTest iamPolicies) stand for the EKS API.
		fixed := podidentity.Fixed{}
		for k, a := range off {
			ns, sa, _ := strings.Cut(k, "/")
			fixed[k] = podidentity.Association{
				Namespace: ns, ServiceAccount: sa, RoleARN: a.RoleARN, TargetRoleARN: a.TargetRoleARN,
				SessionPolicy: a.SessionPolicy, DisableSessionTags: a.DisableSessionTags,
				ID: a.ID, Source: podidentity.SourceConfig,
			}
		}
		sources = append(sources, fixed)
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
