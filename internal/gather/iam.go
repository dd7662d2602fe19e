package gather

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/astjson"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/iam"
	"github.com/tollgate-dev/tollgate/internal/iam/effective"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/podidentity"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// AnnotationRoleARN is the IRSA annotation, on a ServiceAccount or a pod.
const AnnotationRoleARN = "eks.amazonaws.com/role-arn"

// RoleResolver answers which IAM role a pod will assume. source describes
// where the role came from, for messages ("ServiceAccount ai-inference/vllm-sa
// annotation eks.amazonaws.com/role-arn"); arn is "" when the pod assumes
// no role. sa is nil when the pod's ServiceAccount does not exist.
type RoleResolver interface {
	RoleFor(ctx context.Context, pod *corev1.Pod, sa *corev1.ServiceAccount) (arn, source string, err error)
}

// PodIdentityResolver resolves a pod's role the way the credentials
// mutator does (podidentity.Lookup), so that the role checked is the role
// injected: a Pod Identity association (EKS API, then configuration) wins,
// else the IRSA annotation of the pod, else of its ServiceAccount.
type PodIdentityResolver struct {
	Associations podidentity.Associations
}

var _ RoleResolver = PodIdentityResolver{}

// RoleFor implements RoleResolver.
func (r PodIdentityResolver) RoleFor(ctx context.Context, pod *corev1.Pod, sa *corev1.ServiceAccount) (string, string, error) {
	role, err := podidentity.Lookup(ctx, r.Associations, pod, sa)
	if err != nil || role.ARN == "" {
		return role.ARN, "", err
	}
	switch role.Source {
	case podidentity.SourcePodAnnotation:
		return role.ARN, "pod annotation " + AnnotationRoleARN, nil
	case podidentity.SourceServiceAccountAnnotation:
		return role.ARN, fmt.Sprintf("ServiceAccount %s/%s annotation %s", sa.Namespace, sa.Name, AnnotationRoleARN), nil
	}
	where := fmt.Sprintf("Pod Identity association %s/%s", pod.Namespace, iamServiceAccount(pod))
	if role.Source == podidentity.SourceEKS {
		where += " (EKS API)"
	}
	return role.ARN, where, nil
}

// AssociationResolver is a RoleResolver that also answers the pod's EKS
// Pod Identity association (nil when its role does not come from one), so
// that the association's session policy, target role and session tags
// count.
type AssociationResolver interface {
	AssociationFor(ctx context.Context, pod *corev1.Pod, sa *corev1.ServiceAccount) (*podidentity.Association, error)
}

var _ AssociationResolver = PodIdentityResolver{}

// AssociationFor implements AssociationResolver.
func (r PodIdentityResolver) AssociationFor(ctx context.Context, pod *corev1.Pod, sa *corev1.ServiceAccount) (*podidentity.Association, error) {
	role, err := podidentity.Lookup(ctx, r.Associations, pod, sa)
	if err != nil || role.Mode != podidentity.ModePodIdentity {
		return nil, err
	}
	return role.Association, nil
}

// iamServiceAccount is the pod's ServiceAccount, "default" when unset (the
// API server's ServiceAccount admission sets it before webhooks run).
func iamServiceAccount(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return "default"
}

// IAM adds input.state.iam: the documents of the role a pod will assume,
// from the fetcher (the IAM API through its cache, or an offline file), and
// the documents written inline in ACK iam.services.k8s.aws Roles and
// Policies (no AWS call).
type IAM struct {
	Fetcher  *iam.Fetcher
	Resolver RoleResolver

	// grants caches effective.Evaluate per (role documents, session
	// policy, session tags): the fetcher hands out the same *RoleDocuments
	// until it refetches the role, so a warm review evaluates nothing.
	mu     sync.Mutex
	grants map[grantKey][]effective.Grant
	// values caches the Rego value of a pod's whole input.state.iam per
	// (grantKey, role, source, path, via), so that a warm review neither
	// evaluates nor converts the documents.
	values map[valueKey]ast.Value
}

type grantKey struct {
	docs      *iam.RoleDocuments
	session   string
	tags      string
	tagsKnown bool
}

type valueKey struct {
	grantKey
	role, source, path, via string
}

func keyOf(docs *iam.RoleDocuments, session string, sess effective.Session) grantKey {
	k := grantKey{docs: docs, session: session, tagsKnown: sess.TagsKnown}
	if sess.TagsKnown {
		k.tags = sess.Tags["kubernetes-namespace"] + "/" + sess.Tags["kubernetes-service-account"]
	}
	return k
}

// stateValue returns st as a Rego value, from the cache when the same
// state was converted before.
func (g *IAM) stateValue(k grantKey, st *IAMState) (any, error) {
	vk := valueKey{grantKey: k, role: st.Role, source: st.Source, path: st.Path, via: st.Via}
	g.mu.Lock()
	v, ok := g.values[vk]
	g.mu.Unlock()
	if ok {
		return v, nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	v, err = astjson.ParseObject(b)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.values == nil || len(g.values) >= maxGrantEntries {
		g.values = map[valueKey]ast.Value{}
	}
	g.values[vk] = v
	g.mu.Unlock()
	return v, nil
}

// maxGrantEntries bounds the cache of effective grants; it is emptied when
// full (roles refetched after their TTL leave stale entries behind).
const maxGrantEntries = 4096

func (g *IAM) effectiveGrants(k grantKey, docs *iam.RoleDocuments, sess effective.Session) []effective.Grant {
	g.mu.Lock()
	gs, ok := g.grants[k]
	g.mu.Unlock()
	if ok {
		return gs
	}
	gs = effective.Evaluate(docs.Policies, docs.Boundary, sess)
	g.mu.Lock()
	if g.grants == nil || len(g.grants) >= maxGrantEntries {
		g.grants = map[grantKey][]effective.Grant{}
	}
	g.grants[k] = gs
	g.mu.Unlock()
	return gs
}

var _ review.Gatherer = (*IAM)(nil)

// IAMState is input.state.iam (docs/policy-input.md).
type IAMState struct {
	// Status is ok (Policies hold the documents) or unknown (Reason says
	// why the documents are not known).
	Status iam.Status `json:"status"`
	Reason string     `json:"reason,omitempty"`
	// Role is the role's ARN for pods, the role's name for ACK Roles, and
	// empty for ACK Policies.
	Role string `json:"role,omitempty"`
	// Source says where a pod's role came from.
	Source string `json:"source,omitempty"`
	// Path is the field that chose the role, or holds the document.
	Path     string      `json:"path,omitempty"`
	Policies []IAMPolicy `json:"policies"`
	Boundary *IAMPolicy  `json:"boundary,omitempty"`
	// BoundaryARN is an ACK Role's spec.permissionsBoundary; its document
	// is not fetched at admission.
	BoundaryARN string `json:"boundaryArn,omitempty"`
	// TrustPolicy is an ACK Role's spec.assumeRolePolicyDocument.
	TrustPolicy *iam.Document `json:"trustPolicy,omitempty"`
	// SessionPolicy is the session policy of the pod's EKS Pod Identity
	// association, which intersects the role's grants.
	SessionPolicy *IAMPolicy `json:"sessionPolicy,omitempty"`
	// Via says how the pod's session reaches the role, for messages:
	// "Pod Identity association a-1234, session policy".
	Via string `json:"via,omitempty"`
	// Grants are the effective grants (internal/iam/effective) the iam
	// rules judge.
	Grants []effective.Grant `json:"grants"`
}

// IAMPolicy is a policy with the field it came from.
type IAMPolicy struct {
	iam.Policy
	Path string `json:"path,omitempty"`
}

// Key implements review.Gatherer.
func (g *IAM) Key() string { return "iam" }

// Gather implements review.Gatherer.
func (g *IAM) Gather(ctx context.Context, gt *review.Gathering) (any, error) {
	switch gt.Target {
	case engine.TargetPod:
		return g.pod(ctx, gt, gt.Pod)
	case engine.TargetTemplate:
		// A workload's pods will assume the role its template names: say so
		// when the workload is applied, not only when its pods are created.
		if gt.Template == nil {
			return nil, nil
		}
		return g.pod(ctx, gt, &corev1.Pod{ObjectMeta: gt.Template.ObjectMeta, Spec: gt.Template.Spec})
	case engine.TargetIAMRole:
		return ackRole(gt.Object), nil
	case engine.TargetIAMPolicy:
		return ackPolicy(gt.Object), nil
	}
	return nil, nil
}

func (g *IAM) pod(ctx context.Context, gt *review.Gathering, pod *corev1.Pod) (any, error) {
	if pod == nil {
		return nil, nil
	}
	ns, name := namespaceOf(gt), iamServiceAccount(pod)
	sa, err := gt.State.ServiceAccount(ctx, ns, name)
	if err != nil {
		// Which role the pod assumes is unknown, not absent: say so rather
		// than fail the whole review.
		st := &IAMState{Path: "spec.serviceAccountName"}
		return st.unknown(fmt.Sprintf("the pod's ServiceAccount %s/%s could not be read: %v", ns, name, err)), nil
	}
	p := *pod
	p.Namespace = ns
	arn, source, err := g.Resolver.RoleFor(ctx, &p, sa)
	st := &IAMState{Role: arn, Source: source, Path: "spec.serviceAccountName", Policies: []IAMPolicy{}}
	if arn != "" && strings.TrimSpace(pod.Annotations[AnnotationRoleARN]) == arn {
		st.Path = "metadata.annotations"
	}
	switch {
	case err != nil:
		return st.unknown(fmt.Sprintf("the pod's IAM role could not be resolved: %v", err)), nil
	case arn == "":
		return nil, nil
	}
	if _, err := iam.RoleName(arn); err != nil {
		return st.unknown(err.Error()), nil
	}
	var sess effective.Session
	var sessionText string
	if ar, ok := g.Resolver.(AssociationResolver); ok {
		a, err := ar.AssociationFor(ctx, &p, sa)
		if err != nil {
			return st.unknown(fmt.Sprintf("the pod's Pod Identity association could not be read: %v", err)), nil
		}
		if a != nil {
			if reason := st.association(a, &sess); reason != "" {
				return st.unknown(reason), nil
			}
			sessionText = a.SessionPolicy
		}
	}
	if g.Fetcher == nil {
		return st.unknown("this command does not read IAM documents"), nil
	}
	r := g.Fetcher.Lookup(ctx, arn)
	if r.Status != iam.StatusOK {
		return st.unknown(r.Reason), nil
	}
	st.Status = iam.StatusOK
	k := keyOf(r.Docs, sessionText, sess)
	g.mu.Lock()
	v, ok := g.values[valueKey{grantKey: k, role: st.Role, source: st.Source, path: st.Path, via: st.Via}]
	g.mu.Unlock()
	if ok {
		return v, nil
	}
	for _, p := range r.Docs.Policies {
		st.Policies = append(st.Policies, IAMPolicy{Policy: p, Path: st.Path})
	}
	if b := r.Docs.Boundary; b != nil {
		st.Boundary = &IAMPolicy{Policy: *b, Path: st.Path}
	}
	st.Grants = g.effectiveGrants(k, r.Docs, sess)
	return g.stateValue(k, st)
}

// association applies a pod's EKS Pod Identity association: its session
// policy and session tags, and its target role. EKS assumes the
// association's role and, with targetRoleArn, chains into the target role,
// whose permissions the pod gets
// (https://docs.aws.amazon.com/eks/latest/APIReference/API_PodIdentityAssociation.html).
// It returns why the role cannot be judged, or "".
func (st *IAMState) association(a *podidentity.Association, sess *effective.Session) string {
	name := a.ID
	if name == "" {
		name = a.Namespace + "/" + a.ServiceAccount
	}
	via := []string{"Pod Identity association " + name}
	if a.TargetRoleARN != "" {
		via = append(via, "target role of "+a.RoleARN)
		if ta, ra := roleAccount(a.TargetRoleARN), roleAccount(a.RoleARN); ta != ra {
			st.Via = strings.Join(via, ", ")
			return fmt.Sprintf("the association's target role %s is in account %s, not the cluster's account %s, and Tollgate reads IAM in its own account only", a.TargetRoleARN, ta, ra)
		}
	}
	if a.SessionPolicy != "" {
		d, err := iam.ParseDocument(a.SessionPolicy)
		if err != nil {
			st.Via = strings.Join(via, ", ")
			return fmt.Sprintf("the session policy of Pod Identity association %s: %v", name, err)
		}
		sess.Policy = d
		st.SessionPolicy = &IAMPolicy{Policy: iam.Policy{Kind: "session", Name: name, Document: d}}
		via = append(via, "session policy")
	}
	// EKS refuses a session policy unless disableSessionTags is set ("When
	// using this policy, disableSessionTags must be set to true",
	// https://docs.aws.amazon.com/eks/latest/APIReference/API_CreatePodIdentityAssociation.html),
	// so a session with a policy carries no session tags, whatever an
	// offline association says. With a target role the policy restricts
	// the target role's permissions, not the first role's (same page), and
	// the session tags are transitive into the target role's session
	// (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html):
	// both apply to the role judged here.
	if !a.DisableSessionTags && a.SessionPolicy == "" {
		// The session tags EKS Pod Identity adds that Tollgate knows: of
		// eks-cluster-arn, eks-cluster-name, kubernetes-namespace,
		// kubernetes-service-account, kubernetes-pod-name and
		// kubernetes-pod-uid, the two a pod's spec settles
		// (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html#pod-id-abac-tags).
		sess.TagsKnown = true
		sess.Tags = map[string]string{"kubernetes-namespace": a.Namespace, "kubernetes-service-account": a.ServiceAccount}
	}
	st.Via = strings.Join(via, ", ")
	return ""
}

// roleAccount is the account of a role ARN ("" when it is not one).
func roleAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

func (st *IAMState) unknown(reason string) *IAMState {
	st.Status, st.Reason, st.Policies, st.Grants = iam.StatusUnknown, reason, []IAMPolicy{}, []effective.Grant{}
	return st
}

// ackRole reads an ACK Role: spec.inlinePolicies (name -> JSON document),
// spec.assumeRolePolicyDocument and spec.permissionsBoundary. The managed
// policies it attaches (spec.policies, spec.policyRefs) are checked where
// they are defined (ACK Policies) and when a pod assumes the role.
func ackRole(o *kubeobjects.Object) *IAMState {
	spec, _ := o.Map["spec"].(map[string]any)
	name, _ := spec["name"].(string)
	if name == "" {
		name = o.Name
	}
	st := &IAMState{Status: iam.StatusOK, Role: name, Policies: []IAMPolicy{}, Grants: []effective.Grant{}}
	st.BoundaryARN, _ = spec["permissionsBoundary"].(string)
	if v, ok := spec["assumeRolePolicyDocument"]; ok {
		d, err := ackDocument(v)
		if err != nil {
			st.Path = "spec.assumeRolePolicyDocument"
			return st.unknown(fmt.Sprintf("%s %s: spec.assumeRolePolicyDocument: %v", o.GVK.Kind, o.Name, err))
		}
		st.TrustPolicy = d
	}
	inline, _ := spec["inlinePolicies"].(map[string]any)
	names := make([]string, 0, len(inline))
	for k := range inline {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		path := "spec.inlinePolicies." + k
		d, err := ackDocument(inline[k])
		if err != nil {
			st.Path = path
			return st.unknown(fmt.Sprintf("%s %s: %s: %v", o.GVK.Kind, o.Name, path, err))
		}
		st.Policies = append(st.Policies, IAMPolicy{Policy: iam.Policy{Kind: iam.KindInline, Name: k, Document: d}, Path: path})
	}
	st.Grants = grantsOf(st.Policies)
	return st
}

// grantsOf evaluates documents given inline (ACK objects): no boundary
// document, no session.
func grantsOf(ps []IAMPolicy) []effective.Grant {
	pols := make([]iam.Policy, len(ps))
	for i, p := range ps {
		pols[i] = p.Policy
	}
	return effective.Evaluate(pols, nil, effective.Session{})
}

// ackPolicy reads an ACK Policy's spec.policyDocument.
func ackPolicy(o *kubeobjects.Object) *IAMState {
	spec, _ := o.Map["spec"].(map[string]any)
	name, _ := spec["name"].(string)
	if name == "" {
		name = o.Name
	}
	const path = "spec.policyDocument"
	st := &IAMState{Status: iam.StatusOK, Path: path, Policies: []IAMPolicy{}, Grants: []effective.Grant{}}
	d, err := ackDocument(spec["policyDocument"])
	if err != nil {
		return st.unknown(fmt.Sprintf("%s %s: %s: %v", o.GVK.Kind, o.Name, path, err))
	}
	// The ARN is known once ACK has created the policy.
	status, _ := o.Map["status"].(map[string]any)
	meta, _ := status["ackResourceMetadata"].(map[string]any)
	arn, _ := meta["arn"].(string)
	st.Policies = append(st.Policies, IAMPolicy{Policy: iam.Policy{Kind: iam.KindManaged, Name: name, ARN: arn, Document: d}, Path: path})
	st.Grants = grantsOf(st.Policies)
	return st
}

// ackDocument parses a policy document held in an ACK field, where the CRD
// declares a string of JSON.
func ackDocument(v any) (*iam.Document, error) {
	switch x := v.(type) {
	case nil:
		return nil, fmt.Errorf("the policy document is missing")
	case string:
		return iam.ParseDocument(x)
	case map[string]any:
		return nil, fmt.Errorf("want the policy document as a string of JSON, got an object")
	}
	return nil, fmt.Errorf("want the policy document as a string of JSON, got %v", v)
}
