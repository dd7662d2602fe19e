// Package state answers what admission needs to know about the cluster:
// namespaces, ServiceAccounts, quotas, disruption budgets, GPU usage and
// NodePools. In `serve` the answers come from informer caches; in `eval`,
// `audit -f` and `test` they come from the objects given as input (Static).
package state

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// Reader is the cluster state a review reads. Methods return nil (and no
// error) for objects that do not exist; an error means the state could not
// be read (for example a cache that has not synced or a lookup that timed out).
type Reader interface {
	Namespace(ctx context.Context, name string) (*corev1.Namespace, error)
	ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	ResourceQuotas(ctx context.Context, namespace string) ([]*corev1.ResourceQuota, error)
	PodDisruptionBudgets(ctx context.Context, namespace string) ([]*policyv1.PodDisruptionBudget, error)
	// Pods lists the non-terminal pods of a namespace that count toward
	// quotas (the cluster's running workload). In serve the cached pods are
	// stripped to what GPU quota reads (StripPod).
	Pods(ctx context.Context, namespace string) ([]*corev1.Pod, error)
	// GPUUsage returns the GPUs that a namespace's non-terminal pods
	// request, except the pod named exclude, as counter counts them (MIG
	// slices as their fraction of a GPU). In serve an aggregator fed by the
	// pod informer answers without listing pods.
	GPUUsage(ctx context.Context, counter GPUCounter, namespace, exclude string) (Usage, error)
	// NodePools lists karpenter.sh/v1 NodePools as generic objects.
	NodePools(ctx context.Context) ([]map[string]any, error)
	// Nodes lists the cluster's Nodes, sorted by name, stripped to what
	// placement reads (StripNode).
	Nodes(ctx context.Context) ([]*corev1.Node, error)
	// PolicyExceptions lists tollgate.dev/v1alpha1 PolicyExceptions of every
	// namespace as generic objects (internal/exception parses and decides).
	PolicyExceptions(ctx context.Context) ([]map[string]any, error)
}
