// Package podidentity answers which IAM role a pod will assume and how: an
// EKS Pod Identity association for its ServiceAccount, or IRSA (the
// eks.amazonaws.com/role-arn annotation). The credentials mutator injects
// what that answer needs; the IAM validator checks the same role's policies,
// so both read it from Resolve.
package podidentity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
)

// Annotations of the EKS pod identity webhook that Tollgate honours.
const (
	AnnotationRoleARN        = "eks.amazonaws.com/role-arn"
	AnnotationAudience       = "eks.amazonaws.com/audience"
	AnnotationRegionalSTS    = "eks.amazonaws.com/sts-regional-endpoints"
	AnnotationTokenExpiry    = "eks.amazonaws.com/token-expiration"
	AnnotationSkipContainers = "eks.amazonaws.com/skip-containers"
)

// Mode is how a pod gets its credentials.
type Mode string

// Credential modes.
const (
	ModeNone        Mode = ""
	ModePodIdentity Mode = "pod-identity"
	ModeIRSA        Mode = "irsa"
)

// Where a role came from.
const (
	SourceEKS                      = "eks-api"
	SourceConfig                   = "config"
	SourcePodAnnotation            = "pod-annotation"
	SourceServiceAccountAnnotation = "serviceaccount-annotation"
)

// Role is the IAM role a pod will assume.
type Role struct {
	// ARN is the role whose permissions the pod's credentials carry: for
	// a Pod Identity association with a target role, the target role.
	ARN  string
	Mode Mode
	// Source says where the role came from: eks-api, config,
	// pod-annotation or serviceaccount-annotation.
	Source string
	// Association is the Pod Identity association, for ModePodIdentity.
	Association *Association
}

// Association is an EKS Pod Identity association of a ServiceAccount.
type Association struct {
	Namespace      string
	ServiceAccount string
	RoleARN        string
	// TargetRoleARN is the cross-account role EKS chains into, if any.
	TargetRoleARN string
	// SessionPolicy is the association's session policy (JSON), if any;
	// it narrows what the role allows.
	SessionPolicy string
	// DisableSessionTags is true when EKS adds no session tags.
	DisableSessionTags bool
	// ID is the association id (empty for associations from config).
	ID     string
	Source string
}

// Associations finds the Pod Identity association of a ServiceAccount.
// found is false when there is none; an error means the source could not
// answer (for example the EKS API before its first successful read).
type Associations interface {
	Association(ctx context.Context, namespace, serviceAccount string) (a Association, found bool, err error)
}

// ErrInvalidRoleARN is wrapped by Resolve when an IRSA annotation does not
// hold an IAM role ARN; the pod then gets no credentials.
var ErrInvalidRoleARN = errors.New("not an IAM role ARN")

// Resolve returns the role a pod will assume, given its ServiceAccount (nil
// when it does not exist) and the Pod Identity association of that
// ServiceAccount (nil when there is none):
//
//   - a Pod Identity association wins: EKS hands its credentials to the
//     pod whatever the annotations say;
//   - else IRSA, with the role ARN of the pod's eks.amazonaws.com/role-arn
//     annotation, else of the ServiceAccount's (pod annotation >
//     ServiceAccount annotation > configuration, as for every credential
//     setting; configured associations are Pod Identity associations);
//   - else ModeNone.
//
// A malformed IRSA role ARN returns the Role as found and an error
// wrapping ErrInvalidRoleARN that names the object and annotation.
func Resolve(pod *corev1.Pod, sa *corev1.ServiceAccount, assoc *Association) (Role, error) {
	if assoc != nil {
		arn := assoc.RoleARN
		if assoc.TargetRoleARN != "" {
			arn = assoc.TargetRoleARN
		}
		return Role{ARN: arn, Mode: ModePodIdentity, Source: assoc.Source, Association: assoc}, nil
	}
	var r Role
	if v := strings.TrimSpace(pod.Annotations[AnnotationRoleARN]); v != "" {
		r = Role{ARN: v, Mode: ModeIRSA, Source: SourcePodAnnotation}
	} else if sa != nil && strings.TrimSpace(sa.Annotations[AnnotationRoleARN]) != "" {
		r = Role{ARN: strings.TrimSpace(sa.Annotations[AnnotationRoleARN]), Mode: ModeIRSA, Source: SourceServiceAccountAnnotation}
	} else {
		return Role{}, nil
	}
	if !config.ValidRoleARN(r.ARN) {
		where := fmt.Sprintf("pod %s/%s", pod.Namespace, podName(pod))
		if r.Source == SourceServiceAccountAnnotation {
			where = fmt.Sprintf("ServiceAccount %s/%s", sa.Namespace, sa.Name)
		}
		return r, fmt.Errorf("%s annotation %s: %q is %w (want arn:aws:iam::<12-digit account>:role/<name>)", where, AnnotationRoleARN, r.ARN, ErrInvalidRoleARN)
	}
	return r, nil
}

// Lookup finds a pod's ServiceAccount association in src and resolves its
// role; sa may be nil.
func Lookup(ctx context.Context, src Associations, pod *corev1.Pod, sa *corev1.ServiceAccount) (Role, error) {
	var assoc *Association
	if src != nil {
		a, found, err := src.Association(ctx, pod.Namespace, ServiceAccountName(pod))
		if err != nil {
			return Role{}, err
		}
		if found {
			assoc = &a
		}
	}
	return Resolve(pod, sa, assoc)
}

// ServiceAccountName is the pod's ServiceAccount, "default" when unset (the
// API server's ServiceAccount admission sets it before webhooks run).
func ServiceAccountName(pod *corev1.Pod) string {
	switch {
	case pod.Spec.ServiceAccountName != "":
		return pod.Spec.ServiceAccountName
	case pod.Spec.DeprecatedServiceAccount != "":
		return pod.Spec.DeprecatedServiceAccount
	}
	return "default"
}

func podName(p *corev1.Pod) string {
	if p.Name == "" && p.GenerateName != "" {
		return p.GenerateName + "*"
	}
	return p.Name
}

// Static is associations from the configuration, keyed
// "namespace/serviceAccount".
type Static map[string]string

// Association implements Associations.
func (s Static) Association(_ context.Context, namespace, serviceAccount string) (Association, bool, error) {
	arn, ok := s[namespace+"/"+serviceAccount]
	if !ok {
		return Association{}, false, nil
	}
	return Association{Namespace: namespace, ServiceAccount: serviceAccount, RoleARN: arn, Source: SourceConfig}, true, nil
}

// First asks each source in turn and returns the first association found.
// An error from a source is returned only when no later source finds one,
// so configured associations still apply while the EKS API is unreachable.
type First []Associations

// Association implements Associations.
func (f First) Association(ctx context.Context, namespace, serviceAccount string) (Association, bool, error) {
	var errs []error
	for _, s := range f {
		a, found, err := s.Association(ctx, namespace, serviceAccount)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if found {
			return a, true, nil
		}
	}
	return Association{}, false, errors.Join(errs...)
}

// Fixed is complete associations (session policy, target role, ...) keyed
// "namespace/serviceAccount", for offline tests (the associations of an
// offline IAM policies file).
type Fixed map[string]Association

// Association implements Associations.
func (f Fixed) Association(_ context.Context, namespace, serviceAccount string) (Association, bool, error) {
	a, ok := f[namespace+"/"+serviceAccount]
	return a, ok, nil
}
