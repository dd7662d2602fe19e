package wiring

import (
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
