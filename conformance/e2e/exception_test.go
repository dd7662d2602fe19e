//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/tollgate-dev/tollgate/internal/controlplane"
)

var policyExceptions = schema.GroupVersionResource{Group: "tollgate.dev", Version: "v1alpha1", Resource: "policyexceptions"}

// authorRole is the chart's tollgate-exception-author ClusterRole as
// `helm template` renders it, renamed so that it does not clash with the
// one a chart test's helm install creates; the test deletes it at the end.
func authorRole(t *testing.T) string {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(toolsDir(root), "helm"), "template", "tollgate", filepath.Join(root, "charts", "tollgate"),
		"--kube-version", controlplane.KubernetesVersion, "--show-only", "templates/rbac.yaml")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	var role *rbacv1.ClusterRole
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		var r rbacv1.ClusterRole
		if err := dec.Decode(&r); err != nil {
			break
		}
		if r.Kind == "ClusterRole" && r.Name == "tollgate-exception-author" {
			role = &r
			break
		}
	}
	if role == nil {
		t.Fatalf("the chart renders no ClusterRole tollgate-exception-author:\n%s", out)
	}
	role.Name = "tollgate-exception-author-e2e"
	ctx := context.Background()
	_ = env.cs.RbacV1().ClusterRoles().Delete(ctx, role.Name, metav1.DeleteOptions{})
	if _, err := env.cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.cs.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	return role.Name
}

// as returns clients that act as user (authenticated, in no other group),
// recording the API server's warnings.
func as(t *testing.T, user string) (*kubernetes.Clientset, *dynamic.DynamicClient, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(env.cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	cfg.WarningHandler = w
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, dc, w
}

// daemonSetPod is a privileged pod as the DaemonSet controller creates it:
// owned by the DaemonSet, with its template's labels and a generated name.
// This control plane runs no controller-manager, so the test creates it.
func daemonSetPod() *corev1.Pod {
	p := privilegedPod("")
	p.GenerateName = "dcgm-exporter-"
	p.Labels = map[string]string{"app": "dcgm-exporter", "controller-revision-hash": "6d4b8c9f7", "pod-template-generation": "1"}
	p.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "apps/v1", Kind: "DaemonSet", Name: "dcgm-exporter",
		UID: types.UID("5e0c1a2b-0000-4000-8000-00000000d5e7"), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}}
	return p
}

func policyException(name string, expiresAt time.Time) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "tollgate.dev/v1alpha1",
		"kind":       "PolicyException",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"policies": []any{"pss.baseline.privileged"},
			"match": map[string]any{
				"kinds":    []any{"Pod"},
				"names":    []any{"dcgm-exporter-*"},
				"selector": map[string]any{"matchLabels": map[string]any{"app": "dcgm-exporter"}},
			},
			"reason":    "DCGM exporter reads GPU counters through the host",
			"ticket":    "PLAT-1234",
			"expiresAt": expiresAt.UTC().Format(time.RFC3339),
		},
	}}
}

// TestPolicyException goes through the real API server: a privileged
// DaemonSet pod is denied; a user bound to the chart's author role creates
// an exception, after which such pods are admitted with a warning naming
// it; once it is deleted, or once a short-lived one expires, the next pod
// is denied again; a user without the role cannot create one.
func TestPolicyException(t *testing.T) {
	ctx := context.Background()
	// A monitoring namespace at the baseline level, as DCGM's would be:
	// the exception lifts pss.baseline.privileged and nothing else.
	ns := namespace(map[string]string{"tollgate.dev/pss-level": "baseline"})
	role := authorRole(t)
	if _, err := env.cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "exception-authors"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "gpu-oncall"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods, w := clientWithWarnings(t)
	create := func() (*corev1.Pod, error) {
		return pods.CoreV1().Pods(ns).Create(ctx, daemonSetPod(), metav1.CreateOptions{})
	}
	// denied waits (bounded) until a DaemonSet pod is refused for
	// pss.baseline.privileged: the informer must have seen the change.
	denied := func(why string) {
		t.Helper()
		if err := waitFor(15*time.Second, func() error {
			_, err := create()
			if err == nil {
				return fmt.Errorf("admitted")
			}
			if !strings.Contains(err.Error(), "pss.baseline.privileged") {
				return fmt.Errorf("refused for another reason: %w", err)
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: the DaemonSet pod is not denied: %v", why, err)
		}
	}
	// admitted waits (bounded) until a DaemonSet pod is admitted, and
	// returns the warnings of that request.
	admitted := func(why string) string {
		t.Helper()
		var msgs string
		if err := waitFor(15*time.Second, func() error {
			w.mu.Lock()
			w.msgs = nil
			w.mu.Unlock()
			p, err := create()
			if err != nil {
				return err
			}
			msgs = w.String()
			if !strings.HasPrefix(p.Name, "dcgm-exporter-") {
				return fmt.Errorf("pod named %q", p.Name)
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: the DaemonSet pod is not admitted: %v", why, err)
		}
		return msgs
	}

	denied("without an exception")

	// A user without the role is refused by RBAC.
	_, outsider, _ := as(t, "mallory")
	_, err := outsider.Resource(policyExceptions).Namespace(ns).Create(ctx, policyException("self-service", time.Now().Add(24*time.Hour)), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("a user without tollgate-exception-author created a PolicyException: err=%v", err)
	}
	denied("after the refused exception")

	// The author creates one.
	_, author, _ := as(t, "gpu-oncall")
	expires := time.Now().Add(30 * 24 * time.Hour).Truncate(24 * time.Hour)
	if _, err := author.Resource(policyExceptions).Namespace(ns).Create(ctx, policyException("dcgm-host", expires), metav1.CreateOptions{}); err != nil {
		t.Fatalf("the author could not create the PolicyException: %v", err)
	}
	msgs := admitted("with the exception")
	want := fmt.Sprintf("pss.baseline.privileged: excepted by PolicyException %s/dcgm-host until %s (PLAT-1234)", ns, expires.UTC().Format(time.DateOnly))
	if !strings.Contains(msgs, want) {
		t.Errorf("warnings %q do not contain %q", msgs, want)
	}
	// The exception matches by name and labels: another privileged pod of
	// the namespace is still refused.
	if _, err := pods.CoreV1().Pods(ns).Create(ctx, privilegedPod("other"), metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "pss.baseline.privileged") {
		t.Errorf("a pod the exception does not match was not refused: %v", err)
	}

	// Deleting it: the informer sees the delete, the next pod is denied.
	if err := author.Resource(policyExceptions).Namespace(ns).Delete(ctx, "dcgm-host", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("the author could not delete the PolicyException: %v", err)
	}
	denied("after the exception was deleted")

	// A short-lived exception: the server's real clock ends it.
	short := time.Now().Add(8 * time.Second).Truncate(time.Second)
	if _, err := author.Resource(policyExceptions).Namespace(ns).Create(ctx, policyException("short", short), metav1.CreateOptions{}); err != nil {
		t.Fatalf("the author could not create the short-lived PolicyException: %v", err)
	}
	msgs = admitted("with the short-lived exception")
	want = fmt.Sprintf("excepted by PolicyException %s/short until %s (PLAT-1234)", ns, short.UTC().Format(time.RFC3339))
	if !strings.Contains(msgs, want) {
		t.Errorf("warnings %q do not contain %q", msgs, want)
	}
	time.Sleep(time.Until(short))
	denied("after the short-lived exception expired")
}
