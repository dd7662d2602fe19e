//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func privilegedPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "registry.k8s.io/pause:3.10",
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
		}}},
	}
}

func restrictedPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](1000),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: "c", Image: "registry.k8s.io/pause:3.10",
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}

func TestRestrictedViolationRefused(t *testing.T) {
	ns := namespace(nil)
	_, err := env.cs.CoreV1().Pods(ns).Create(context.Background(), privilegedPod("root"), metav1.CreateOptions{})
	if err == nil {
		t.Fatal("a privileged pod was admitted")
	}
	for _, want := range []string{`admission webhook "pods.validate.tollgate.dev" denied the request`, "pss.baseline.privileged", `container "c" must not set securityContext.privileged=true`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestCompliantPodAdmitted(t *testing.T) {
	ns := namespace(nil)
	cs, w := clientWithWarnings(t)
	if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), restrictedPod("ok"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if w.String() != "" {
		t.Errorf("unexpected warnings: %s", w)
	}
}

func TestWarnNamespace(t *testing.T) {
	ns := namespace(map[string]string{"tollgate.dev/pss": "warn"})
	cs, w := clientWithWarnings(t)
	if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), privilegedPod("warned"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a warn namespace refused the pod: %v", err)
	}
	if !strings.Contains(w.String(), "pss.baseline.privileged: privileged") {
		t.Errorf("the client did not see the warning; warnings: %q", w)
	}
}

func TestAuditNamespace(t *testing.T) {
	ns := namespace(map[string]string{"tollgate.dev/pss": "audit"})
	if _, err := env.cs.CoreV1().Pods(ns).Create(context.Background(), privilegedPod("audited"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("an audit namespace refused the pod: %v", err)
	}
	// The API server writes the webhook's audit annotations, prefixed with
	// the webhook's name, into the audit event of the request.
	key := "pods.validate.tollgate.dev/pss.baseline.privileged"
	err := waitFor(10*time.Second, func() error {
		b, err := os.ReadFile(env.auditLog)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			var ev struct {
				Verb      string `json:"verb"`
				ObjectRef struct {
					Namespace string `json:"namespace"`
					Name      string `json:"name"`
				} `json:"objectRef"`
				Annotations map[string]string `json:"annotations"`
			}
			if json.Unmarshal([]byte(line), &ev) != nil || ev.Verb != "create" || ev.ObjectRef.Namespace != ns {
				continue
			}
			if strings.Contains(ev.Annotations[key], "privileged") {
				return nil
			}
		}
		return os.ErrNotExist
	})
	if err != nil {
		t.Fatalf("no audit event for the pod carries %s", key)
	}
}

func TestExemptNamespaceUntouched(t *testing.T) {
	p := privilegedPod("exempt-" + time.Now().Format("150405.000000"))
	p.Name = strings.ReplaceAll(p.Name, ".", "-")
	if _, err := env.cs.CoreV1().Pods("kube-system").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kube-system refused a pod: %v", err)
	}
}

func TestDeploymentTemplateWarns(t *testing.T) {
	ns := namespace(nil)
	cs, w := clientWithWarnings(t)
	d := &appsv1.Deployment{}
	decode(t, `
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.27"}
`, d)
	if _, err := cs.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the Deployment was refused: %v", err)
	}
	for _, want := range []string{"pss.restricted.runAsNonRoot", "pss.restricted.allowPrivilegeEscalation"} {
		if !strings.Contains(w.String(), want) {
			t.Errorf("warnings do not mention %s: %q", want, w)
		}
	}
}

// TestWebhookDown stops Tollgate: with failurePolicy Ignore pods are
// admitted, with Fail they are refused with a clear error, and kube-system
// keeps working either way because it is never sent to Tollgate.
func TestWebhookDown(t *testing.T) {
	env.tollgate.stop()
	defer func() {
		var err error
		if env.tollgate, err = startTollgate(); err != nil {
			t.Fatalf("restarting tollgate: %v", err)
		}
		if err := installWebhooks(admissionregistrationv1.Fail); err != nil {
			t.Fatal(err)
		}
	}()
	ctx := context.Background()
	ns := namespace(nil)

	if err := installWebhooks(admissionregistrationv1.Ignore); err != nil {
		t.Fatal(err)
	}
	if _, err := env.cs.CoreV1().Pods(ns).Create(ctx, privilegedPod("ignored"), metav1.CreateOptions{}); err != nil {
		t.Errorf("failurePolicy Ignore: pod refused while Tollgate is down: %v", err)
	}

	if err := installWebhooks(admissionregistrationv1.Fail); err != nil {
		t.Fatal(err)
	}
	_, err := env.cs.CoreV1().Pods(ns).Create(ctx, restrictedPod("failed"), metav1.CreateOptions{})
	if err == nil {
		t.Fatal("failurePolicy Fail: a pod was admitted while Tollgate is down")
	}
	if !strings.Contains(err.Error(), `failed calling webhook "pods.validate.tollgate.dev"`) {
		t.Errorf("failurePolicy Fail: unclear error: %v", err)
	}
	// kube-system and Tollgate's own namespace are never sent to it, so
	// the cluster (and Tollgate itself) can recover.
	namedNamespace("tollgate-system", nil, nil)
	for _, ns := range []string{"kube-system", "tollgate-system"} {
		p := restrictedPod("recover-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "-"))
		if _, err := env.cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Errorf("%s refused a pod while Tollgate is down: %v", ns, err)
		}
	}
}
