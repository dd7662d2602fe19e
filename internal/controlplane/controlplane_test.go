//go:build e2e

package controlplane

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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

// Binaries of another version are rebuilt with a message saying why, and
// those of the right version are reused. The kube-apiserver is linked from
// the real cache; etcd is a script that reports an older release, so only
// etcd is rebuilt (seconds with a warm Go build cache).
func TestWrongVersionRebuilt(t *testing.T) {
	cached, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(cached, "kube-apiserver"), filepath.Join(dir, "kube-apiserver")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etcd"), []byte("#!/bin/sh\necho 'etcd Version: 3.6.0'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOLLGATE_CONTROLPLANE_DIR", dir)
	if _, err := Start(Options{}); err == nil || !strings.Contains(err.Error(), "run scripts/controlplane.sh") {
		t.Fatalf("Start with an etcd of another version: %v, want an error naming scripts/controlplane.sh", err)
	}
	var out bytes.Buffer
	got, err := Ensure(&out)
	if err != nil {
		t.Fatalf("Ensure: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"kube-apiserver " + KubernetesVersion + ": cached in " + dir,
		"etcd in " + dir + " is missing or not " + EtcdVersion + ": rebuilding",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Ensure's output lacks %q:\n%s", want, out.String())
		}
	}
	if got != dir || !upToDate(dir) {
		t.Errorf("after Ensure, %s is not up to date", dir)
	}
}
