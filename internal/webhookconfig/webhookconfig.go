// Package webhookconfig builds Tollgate's ValidatingWebhookConfiguration and
// MutatingWebhookConfiguration: which requests reach which endpoint, with
// what failure policy, timeout, namespace selector and match conditions.
// The Helm chart renders the same objects (a test compares them), and
// `tollgate demo` and the end-to-end suite install them as built here.
package webhookconfig

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	chart "github.com/tollgate-dev/tollgate/charts/tollgate"
)

// Options are the settings an operator chooses (chart values).
type Options struct {
	// Name of both configurations (the Helm release's fullname).
	Name string
	// ServiceName and Namespace locate Tollgate's Service; ignored when URL
	// is set (local control planes call a URL).
	ServiceName string
	Namespace   string
	// URL, when set, is the base URL of the webhook server (https://host:port).
	URL      string
	CABundle []byte
	// ValidatingFailurePolicy is Fail (default) or Ignore; mutation always
	// fails open (Ignore): a missing toleration is better than a lost pod.
	ValidatingFailurePolicy admissionregistrationv1.FailurePolicyType
	// Timeouts in seconds (1 to 30).
	ValidatingTimeoutSeconds int32
	MutatingTimeoutSeconds   int32
	// ExcludedNamespaces are never sent to Tollgate (kube-system,
	// kube-node-lease and the release namespace by default), so that the
	// cluster can always recover even when Tollgate is down.
	ExcludedNamespaces []string
	// MutateAllServiceAccounts sends pods on the default ServiceAccount to
	// the mutating webhook too (for Pod Identity associations on "default").
	MutateAllServiceAccounts bool
}

// Defaults returns the options the chart defaults to.
func Defaults() Options {
	return Options{
		Name:                     "tollgate",
		ServiceName:              "tollgate",
		Namespace:                "tollgate-system",
		ValidatingFailurePolicy:  admissionregistrationv1.Fail,
		ValidatingTimeoutSeconds: 5,
		MutatingTimeoutSeconds:   5,
		ExcludedNamespaces:       []string{"kube-system", "kube-node-lease", "tollgate-system"},
	}
}

func (o Options) clientConfig(path string) admissionregistrationv1.WebhookClientConfig {
	if o.URL != "" {
		return admissionregistrationv1.WebhookClientConfig{URL: ptr.To(o.URL + path), CABundle: o.CABundle}
	}
	return admissionregistrationv1.WebhookClientConfig{
		Service:  &admissionregistrationv1.ServiceReference{Namespace: o.Namespace, Name: o.ServiceName, Path: ptr.To(path), Port: ptr.To[int32](443)},
		CABundle: o.CABundle,
	}
}

func (o Options) namespaceSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: o.ExcludedNamespaces,
	}}}
}

func rule(group, version string, resources []string, ops ...admissionregistrationv1.OperationType) admissionregistrationv1.RuleWithOperations {
	return admissionregistrationv1.RuleWithOperations{
		Operations: ops,
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{version}, Resources: resources,
			Scope: ptr.To(admissionregistrationv1.AllScopes),
		},
	}
}

const (
	create = admissionregistrationv1.Create
	update = admissionregistrationv1.Update
)

// Validating returns the ValidatingWebhookConfiguration: one webhook per kind
// of object, all served by /validate, so that each can have its own
// failure policy and conditions.
func Validating(o Options) *admissionregistrationv1.ValidatingWebhookConfiguration {
	common := func(name string, rules ...admissionregistrationv1.RuleWithOperations) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name:                    name,
			ClientConfig:            o.clientConfig("/validate"),
			Rules:                   rules,
			FailurePolicy:           ptr.To(o.ValidatingFailurePolicy),
			MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			TimeoutSeconds:          ptr.To(o.ValidatingTimeoutSeconds),
			AdmissionReviewVersions: []string{"v1"},
		}
	}
	// Pod updates are reviewed while the pod is gated: the scheduling
	// constraints of a pod with schedulingGates can still be changed, and
	// a Spot selector added then would never be reviewed otherwise
	// (kubernetes.io/docs/concepts/scheduling-eviction/pod-scheduling-readiness,
	// "Mutable Pod scheduling directives"). The match condition keeps every
	// other pod update off Tollgate's path.
	pods := common("pods.validate.tollgate.dev",
		rule("", "v1", []string{"pods"}, create, update),
		rule("", "v1", []string{"pods/ephemeralcontainers"}, update))
	pods.NamespaceSelector = o.namespaceSelector()
	pods.MatchConditions = []admissionregistrationv1.MatchCondition{{Name: "pod-create-or-gated-update", Expression: chart.ValidatingPodMatchExpression()}}
	workloads := common("workloads.validate.tollgate.dev",
		rule("apps", "v1", []string{"deployments", "statefulsets", "daemonsets", "replicasets"}, create, update),
		rule("batch", "v1", []string{"jobs", "cronjobs"}, create, update))
	workloads.NamespaceSelector = o.namespaceSelector()
	nodepools := common("nodepools.validate.tollgate.dev",
		rule("karpenter.sh", "v1", []string{"nodepools"}, create, update))
	// EC2NodeClasses only: EKS Auto Mode NodeClasses (eks.amazonaws.com)
	// have none of the fields the nodeclass family judges, so sending them
	// (EKS's own default among them) would add a failure point and no check.
	nodeclasses := common("nodeclasses.validate.tollgate.dev",
		rule("karpenter.k8s.aws", "v1", []string{"ec2nodeclasses"}, create, update))
	ack := common("ack.validate.tollgate.dev",
		rule("s3.services.k8s.aws", "*", []string{"buckets"}, create, update),
		rule("iam.services.k8s.aws", "*", []string{"roles", "policies"}, create, update))
	ack.NamespaceSelector = o.namespaceSelector()
	// PolicyExceptions are validated in every namespace, Tollgate's own
	// included: its exceptions except cluster-scoped objects (NodePools).
	exceptions := common("exceptions.validate.tollgate.dev",
		rule("tollgate.dev", "v1alpha1", []string{"policyexceptions"}, create, update))
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Labels: labels()},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{pods, workloads, nodepools, nodeclasses, ack, exceptions},
	}
}

// Mutating returns the MutatingWebhookConfiguration for pods. Match
// conditions keep pods that no mutator concerns away from the webhook.
func Mutating(o Options) *admissionregistrationv1.MutatingWebhookConfiguration {
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Labels: labels()},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "pods.mutate.tollgate.dev",
			ClientConfig:            o.clientConfig("/mutate"),
			Rules:                   []admissionregistrationv1.RuleWithOperations{rule("", "v1", []string{"pods"}, create)},
			FailurePolicy:           ptr.To(admissionregistrationv1.Ignore),
			MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			TimeoutSeconds:          ptr.To(o.MutatingTimeoutSeconds),
			ReinvocationPolicy:      ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy),
			NamespaceSelector:       o.namespaceSelector(),
			AdmissionReviewVersions: []string{"v1"},
			MatchConditions:         MutatingMatchConditions(o),
		}},
	}
}

// MutatingMatchConditions send a pod to the mutating webhook only when a
// mutator may change it: it requests an accelerator, names a MIG profile
// (or its namespace does), may land on Spot capacity, or runs under a
// ServiceAccount that may map to an IAM role. The expression lives in the
// chart (files/mutating-match.cel) so both render the same.
func MutatingMatchConditions(o Options) []admissionregistrationv1.MatchCondition {
	sa := "true"
	if !o.MutateAllServiceAccounts {
		sa = "has(object.spec.serviceAccountName) && object.spec.serviceAccountName != 'default'"
	}
	return []admissionregistrationv1.MatchCondition{{Name: "needs-a-tollgate-mutator", Expression: chart.MutatingMatchExpression(sa)}}
}

func labels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "tollgate", "app.kubernetes.io/component": "admission"}
}
