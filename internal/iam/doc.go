// Package iam reads the IAM policy documents that decide what a role may do
// and hands them to the iam policies in a normalised form (Document). The
// effective-permission computation is internal/iam/effective; the policies
// themselves are Rego (rego/iam).
//
// # Sources
//
// APISource reads a role from the IAM API with aws-sdk-go-v2: GetRole (its
// permissions boundary), every page of ListAttachedRolePolicies and, for
// each policy, GetPolicy and GetPolicyVersion of the default version (cached
// by ARN and version: versions never change), every page of
// ListRolePolicies with GetRolePolicy of each, and the boundary's default
// version. GetRole looks a role up by name, so the ARN it returns must equal
// the one asked for: a role of the same name in Tollgate's own account is
// not the pod's role. Offline reads the same documents from a file
// (`tollgate eval --iam-policies`, iam.offlinePolicies).
//
// # Credentials
//
// The SDK is configured with config.LoadDefaultConfig only: environment,
// shared config and credentials files (AWS_PROFILE), web identity (IRSA),
// container credentials (EKS Pod Identity), AWS_ENDPOINT_URL_IAM. Instance
// metadata is disabled unless iam.instanceMetadata is set, and when the
// SDK's chain ends at the instance role anyway (nothing else configured),
// the Fetcher is disabled: every lookup answers unknown with
// ErrNoCredentials and no call is made. A configuration that does not load
// (an unknown AWS_PROFILE) disables it the same way, with the error.
//
// # Cache
//
// Fetcher caches each role for iam.cacheTTL and failures for iam.errorTTL.
// Concurrent lookups of a role share one fetch (single-flight); a semaphore
// bounds the API calls in flight across roles (iam.maxConcurrentCalls);
// throttling is retried by the SDK's standard retryer. On the admission path
// (Admission) a lookup waits at most iam.timeout and then answers unknown;
// the fetch is detached from the request and fills the cache for the next
// pod. A hit after half the TTL answers from the cache and refreshes in the
// background; a refresh that fails keeps the documents until they expire.
// eval and audit (Wait) wait up to iam.waitTimeout instead.
package iam
