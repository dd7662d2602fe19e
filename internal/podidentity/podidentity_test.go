package podidentity

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	saRole  = "arn:aws:iam::123456789012:role/vllm-pod-role"
	podRole = "arn:aws:iam::123456789012:role/vllm-batch-role"
	piRole  = "arn:aws:iam::123456789012:role/vllm-pod-identity"
)

func TestResolve(t *testing.T) {
	pod := func(ann map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "p", Annotations: ann}, Spec: corev1.PodSpec{ServiceAccountName: "sa"}}
	}
	sa := func(arn string) *corev1.ServiceAccount {
		s := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "sa"}}
		if arn != "" {
			s.Annotations = map[string]string{AnnotationRoleARN: arn}
		}
		return s
	}
	assoc := &Association{Namespace: "ai", ServiceAccount: "sa", RoleARN: piRole, Source: SourceConfig}
	chained := &Association{Namespace: "ai", ServiceAccount: "sa", RoleARN: piRole, TargetRoleARN: "arn:aws:iam::210987654321:role/models", Source: SourceEKS}
	for _, tc := range []struct {
		name   string
		pod    *corev1.Pod
		sa     *corev1.ServiceAccount
		assoc  *Association
		want   Role
		errMsg string
	}{
		{"nothing", pod(nil), sa(""), nil, Role{}, ""},
		{"no ServiceAccount", pod(nil), nil, nil, Role{}, ""},
		{"IRSA from the ServiceAccount", pod(nil), sa(saRole), nil, Role{ARN: saRole, Mode: ModeIRSA, Source: SourceServiceAccountAnnotation}, ""},
		{"pod annotation wins", pod(map[string]string{AnnotationRoleARN: podRole}), sa(saRole), nil, Role{ARN: podRole, Mode: ModeIRSA, Source: SourcePodAnnotation}, ""},
		{"Pod Identity wins over IRSA", pod(map[string]string{AnnotationRoleARN: podRole}), sa(saRole), assoc, Role{ARN: piRole, Mode: ModePodIdentity, Source: SourceConfig, Association: assoc}, ""},
		{"target role", pod(nil), sa(""), chained, Role{ARN: "arn:aws:iam::210987654321:role/models", Mode: ModePodIdentity, Source: SourceEKS, Association: chained}, ""},
		{"malformed on the ServiceAccount", pod(nil), sa("vllm-pod-role"), nil, Role{ARN: "vllm-pod-role", Mode: ModeIRSA, Source: SourceServiceAccountAnnotation},
			`ServiceAccount ai/sa annotation eks.amazonaws.com/role-arn: "vllm-pod-role" is not an IAM role ARN (want arn:aws:iam::<12-digit account>:role/<name>)`},
		{"malformed on the pod", pod(map[string]string{AnnotationRoleARN: "arn:aws:iam::12345:role/x"}), sa(saRole), nil, Role{ARN: "arn:aws:iam::12345:role/x", Mode: ModeIRSA, Source: SourcePodAnnotation},
			`pod ai/p annotation eks.amazonaws.com/role-arn: "arn:aws:iam::12345:role/x" is not an IAM role ARN (want arn:aws:iam::<12-digit account>:role/<name>)`},
		{"a user ARN is not a role", pod(nil), sa("arn:aws:iam::123456789012:user/alice"), nil, Role{ARN: "arn:aws:iam::123456789012:user/alice", Mode: ModeIRSA, Source: SourceServiceAccountAnnotation},
			`ServiceAccount ai/sa annotation eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:user/alice" is not an IAM role ARN (want arn:aws:iam::<12-digit account>:role/<name>)`},
		{"other partition and a path", pod(nil), sa("arn:aws-us-gov:iam::123456789012:role/ml/serving/vllm"), nil, Role{ARN: "arn:aws-us-gov:iam::123456789012:role/ml/serving/vllm", Mode: ModeIRSA, Source: SourceServiceAccountAnnotation}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.pod, tc.sa, tc.assoc)
			if tc.errMsg == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.errMsg != "" && (err == nil || err.Error() != tc.errMsg || !errors.Is(err, ErrInvalidRoleARN)) {
				t.Fatalf("error %v, want %q wrapping ErrInvalidRoleARN", err, tc.errMsg)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

type failing struct{ err error }

func (f failing) Association(context.Context, string, string) (Association, bool, error) {
	return Association{}, false, f.err
}

func TestFirstAndLookup(t *testing.T) {
	ctx := context.Background()
	static := Static{"ai/sa": piRole}
	down := failing{errors.New("EKS API unreachable")}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "p"}, Spec: corev1.PodSpec{ServiceAccountName: "sa"}}

	r, err := Lookup(ctx, First{down, static}, pod, nil)
	if err != nil || r.ARN != piRole || r.Mode != ModePodIdentity || r.Source != SourceConfig {
		t.Errorf("a later source that answers wins over an earlier error: %+v, %v", r, err)
	}
	if _, err := Lookup(ctx, First{down, Static{}}, pod, nil); err == nil || err.Error() != "EKS API unreachable" {
		t.Errorf("no source answered: error %v, want the EKS error", err)
	}
	if r, err := Lookup(ctx, nil, pod, nil); err != nil || r.Mode != ModeNone {
		t.Errorf("no sources: %+v, %v", r, err)
	}
	defaultSA := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ai"}}
	if r, _ := Lookup(ctx, Static{"ai/default": piRole}, defaultSA, nil); r.ARN != piRole {
		t.Errorf("a pod without serviceAccountName runs as default: %+v", r)
	}
}
