//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// baselinePod meets baseline and breaks restricted (runAsNonRoot and the
// rest): the API server's own PodSecurity plugin admits it at enforce:
// baseline.
func baselinePod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}
}

// TestPSAWarnLabel: a namespace labelled for PSA's usual rollout (enforce
// baseline, warn restricted) gets the same from Tollgate: the restricted
// findings come back as Tollgate warnings, beside PSA's own, and the pod
// is admitted; a baseline violation is still refused.
func TestPSAWarnLabel(t *testing.T) {
	ctx := context.Background()
	ns := namespace(map[string]string{"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted"})
	cs, w := clientWithWarnings(t)
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, baselinePod("warned"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("enforce baseline, warn restricted: the pod was refused: %v", err)
	}
	for _, want := range []string{"pss.restricted.runAsNonRoot: ", `would violate PodSecurity "restricted:latest"`} {
		if !strings.Contains(w.String(), want) {
			t.Errorf("warnings lack %q: %q", want, w)
		}
	}
	_, err := cs.CoreV1().Pods(ns).Create(ctx, privilegedPod("refused"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil || !strings.Contains(err.Error(), "privileged") {
		t.Errorf("a privileged pod was not refused at enforce baseline: %v", err)
	}
}

// TestPSAAuditLabel: audit: restricted gives the restricted findings as
// Tollgate audit annotations in the API server's audit log.
func TestPSAAuditLabel(t *testing.T) {
	ns := namespace(map[string]string{"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/audit": "restricted"})
	cs, w := clientWithWarnings(t)
	if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), baselinePod("audited"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("enforce baseline, audit restricted: the pod was refused: %v", err)
	}
	if strings.Contains(w.String(), "pss.restricted.") {
		t.Errorf("audit mode warned: %q", w)
	}
	key := "pods.validate.tollgate.dev/pss.restricted.runAsNonRoot"
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
				} `json:"objectRef"`
				Annotations map[string]string `json:"annotations"`
			}
			if json.Unmarshal([]byte(line), &ev) != nil || ev.Verb != "create" || ev.ObjectRef.Namespace != ns {
				continue
			}
			if strings.Contains(ev.Annotations[key], "runAsNonRoot") {
				return nil
			}
		}
		return os.ErrNotExist
	})
	if err != nil {
		t.Fatalf("no audit event for the pod carries %s", key)
	}
}
