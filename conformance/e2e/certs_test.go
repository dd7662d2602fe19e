//go:build e2e

package e2e

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/tollgate-dev/tollgate/certs"
)

// TestSelfSignedRotationUnderLoad runs Tollgate in self-signed mode with
// lifetimes short enough to rotate the serving certificate several times
// and the CA at least once, while clients create pods through the API
// server without pause. No request may fail.
func TestSelfSignedRotationUnderLoad(t *testing.T) {
	ctx := context.Background()
	if _, err := env.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tollgate-system"}}, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	port := freePort()
	// Webhook configurations without a caBundle, as the chart installs
	// them in self-signed mode: Tollgate writes it. (Until then calls fail,
	// which is what installWebhooksAt waits for.)
	if err := installWebhooksAt(port, nil, admissionregistrationv1.Fail); err != nil {
		t.Fatal(err)
	}
	tg, err := startTollgateWith(
		"--cert-mode", "self-signed",
		"--cert-dir", t.TempDir(),
		"--port", strconv.Itoa(port),
		"--cert-secret", "tollgate-rotation-tls",
		"--cert-ip-sans", "127.0.0.1",
		"--cert-dns-names", "tollgate.tollgate-system.svc",
		"--ca-lifetime", "45s",
		"--cert-lifetime", "15s",
		"--cert-check-interval", "1s",
		"--leader-elect",
	)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.stop()
	restoreWebhooksAfter(t)
	// Wait until the first caBundle is in place.
	if err := waitFor(30*time.Second, func() error {
		_, err := env.cs.CoreV1().Pods(namespace(nil)).Create(ctx, restrictedPod("first"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}); err != nil {
		t.Fatalf("self-signed Tollgate never served: %v\n%s", err, tg.out.String())
	}

	load := startPodLoad(namespace(nil))
	time.Sleep(70 * time.Second)
	load.end()

	events, err := env.cs.CoreV1().Events("tollgate-system").List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "tollgate-rotation-tls").String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var renewals, caRotations int
	for _, e := range events.Items {
		n := int(e.Count)
		if n == 0 {
			n = 1
		}
		if strings.Contains(e.Message, "issued a new serving certificate") {
			renewals += n
		}
		if strings.Contains(e.Message, "promoted the new CA") {
			caRotations += n
		}
	}
	t.Logf("requests: %d (%s), failures: %d, serving certificate renewals: %d, CA rotations: %d", load.requests.Load(), load.latency(), load.failures.Load(), renewals, caRotations)
	if load.failures.Load() > 0 {
		t.Errorf("%d of %d requests failed during rotation; first: %s", load.failures.Load(), load.requests.Load(), load.firstFailures())
	}
	if renewals < 3 || caRotations < 1 {
		t.Errorf("rotation did not happen often enough (renewals %d, CA rotations %d):\n%s", renewals, caRotations, tg.out.String())
	}
	s, err := env.cs.CoreV1().Secrets("tollgate-system").Get(ctx, "tollgate-rotation-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Data[certs.KeyCABundle]) == 0 {
		t.Error("the Secret has no CA bundle")
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
