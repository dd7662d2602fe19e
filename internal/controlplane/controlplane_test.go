//go:build e2e

package controlplane

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestStartStop(t *testing.T) {
	cp, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "smoke"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil || v.GitVersion != KubernetesVersion {
		t.Fatalf("server version %v, %v; want %s", v, err, KubernetesVersion)
	}
	if err := cp.Stop(); err != nil {
		t.Fatal(err)
	}
}

// A control plane that cannot start reports kube-apiserver's log and leaves
// no etcd or kube-apiserver process behind.
func TestStartFailureLeavesNoProcesses(t *testing.T) {
	before := processes(t)
	_, err := Start(Options{ExtraAPIServerFlags: map[string]string{"no-such-flag": "1"}, StartTimeout: 10e9})
	if err == nil {
		t.Fatal("expected the start to fail")
	}
	if !strings.Contains(err.Error(), "kube-apiserver log") || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("error does not show the apiserver's log tail:\n%v", err)
	}
	if after := processes(t); after > before {
		t.Errorf("%d control-plane processes before, %d after a failed start", before, after)
	}
}

func processes(t *testing.T) int {
	t.Helper()
	out, _ := exec.Command("pgrep", "-c", "-f", "bin/k8s/(etcd|kube-apiserver)").Output()
	n := 0
	for _, c := range strings.TrimSpace(string(out)) {
		n = n*10 + int(c-'0')
	}
	return n
}
