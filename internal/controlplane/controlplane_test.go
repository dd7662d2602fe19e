//go:build e2e

package controlplane

import (
	"context"
	"os"
	"strconv"
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

// processes counts the etcd and kube-apiserver processes this test process
// started (its children), so that control planes of other tests running on
// the machine at the same time do not count.
func processes(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	me := strconv.Itoa(os.Getpid())
	n := 0
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		comm, rest := s[open+1:closing], strings.Fields(s[closing+1:])
		if len(rest) > 1 && rest[1] == me && (comm == "etcd" || comm == "kube-apiserver") {
			n++
		}
	}
	return n
}
