package config

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IAM is the iam section of the configuration file: how Tollgate reads the
// IAM policy documents of the role a pod will assume.
//
// Tollgate calls the IAM API only when AWS credentials are configured the
// standard way (environment, shared config or profile, web identity, EKS Pod
// Identity or ECS container credentials); AWS_ENDPOINT_URL_IAM points it at
// another endpoint. Without credentials, or when the answer does not come in
// time, the pod gets the finding iam.unknown, whose action (warn by default)
// is set like any other: actions: {iam.unknown: deny}, or the namespace label
// tollgate.dev/iam.
type IAM struct {
	// Timeout bounds how long an admission request waits for documents
	// that are not cached; the fetch goes on in the background and fills
	// the cache. Default 2s.
	Timeout metav1.Duration `json:"timeout"`
	// WaitTimeout bounds how long eval and audit, which have no admission
	// deadline, wait for documents; it is also the deadline of every
	// background fetch, retries included. Default 60s.
	WaitTimeout metav1.Duration `json:"waitTimeout"`
	// CacheTTL is how long a role's documents are used before they are
	// fetched again; a role in use is refreshed in the background once
	// half of it has passed, so that admission does not wait. Default 5m.
	CacheTTL metav1.Duration `json:"cacheTTL"`
	// ErrorTTL is how long a failed fetch (access denied, no such role) is
	// remembered before the next attempt. Default 30s.
	ErrorTTL metav1.Duration `json:"errorTTL"`
	// MaxConcurrentCalls bounds the IAM API calls in flight at once, across
	// all roles. Default 4.
	MaxConcurrentCalls int `json:"maxConcurrentCalls"`
	// MaxRoles bounds how many roles the cache holds. Default 10000.
	MaxRoles int `json:"maxRoles"`
	// Region is the region of the IAM client (IAM is global: the region
	// selects the partition, e.g. cn-north-1 for aws-cn). Default: the SDK's
	// (AWS_REGION, the profile), else us-east-1.
	Region string `json:"region,omitempty"`
	// InstanceMetadata lets the SDK take credentials from EC2 instance
	// metadata (the node's role) when nothing else provides them. Off by
	// default: a webhook should not act with its node's identity.
	InstanceMetadata bool `json:"instanceMetadata,omitempty"`
	// OfflinePolicies is a JSON file of role documents (the format of
	// `tollgate eval --iam-policies`) used instead of the IAM API; no AWS
	// call is made. For air-gapped clusters and CI.
	OfflinePolicies string `json:"offlinePolicies,omitempty"`
}

func defaultIAM() IAM {
	return IAM{
		Timeout:            metav1.Duration{Duration: 2 * time.Second},
		WaitTimeout:        metav1.Duration{Duration: time.Minute},
		CacheTTL:           metav1.Duration{Duration: 5 * time.Minute},
		ErrorTTL:           metav1.Duration{Duration: 30 * time.Second},
		MaxConcurrentCalls: 4,
		MaxRoles:           10000,
	}
}
