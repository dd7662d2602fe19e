//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tollgate-dev/tollgate/internal/controlplane"
	"github.com/tollgate-dev/tollgate/internal/iam/iamtest"
)

// TestIAMThroughTheAPIServer runs Tollgate with AWS credentials pointed at a
// loopback IAM endpoint: a pod whose role has AmazonS3FullAccess is refused
// by the API server, the design document's least-privilege vLLM role is
// admitted.
func TestIAMThroughTheAPIServer(t *testing.T) {
	root, _ := controlplane.RepoRoot()
	seed, err := os.ReadFile(filepath.Join(root, "internal", "iam", "testdata", "vllm-pod-role.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := iamtest.NewServer()
	defer srv.Close()
	const fullAccess = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
	srv.AddPolicy(iamtest.ManagedPolicy{ARN: fullAccess, DefaultVersion: "v1", Versions: map[string]string{
		"v1": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`,
	}})
	srv.AddRole(iamtest.Role{ARN: "arn:aws:iam::123456789012:role/wide-role", Attached: []string{fullAccess}})
	srv.AddRole(iamtest.Role{ARN: "arn:aws:iam::123456789012:role/vllm-pod-role", Inline: map[string]string{"vllm-models": string(seed)}})

	port := freePort()
	tg, err := startTollgateEnv(env.cp.Kubeconfig, hermeticEnv(
		"AWS_ENDPOINT_URL_IAM="+srv.URL, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID="+iamtest.AccessKeyID, "AWS_SECRET_ACCESS_KEY=tollgate-test-secret",
	), "--cert-dir", env.cp.WebhookCertDir, "--port", strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer tg.stop()
	if err := installWebhooksAt(port, env.cp.WebhookCA, admissionregistrationv1.Fail); err != nil {
		t.Fatal(err)
	}
	restoreWebhooksAfter(t)

	ns := namespace(nil)
	serviceAccount(t, ns, "wide-sa", "arn:aws:iam::123456789012:role/wide-role")
	serviceAccount(t, ns, "vllm-sa", "arn:aws:iam::123456789012:role/vllm-pod-role")
	ctx := context.Background()
	_, err = env.cs.CoreV1().Pods(ns).Create(ctx, gpuPodAs("wide", "wide-sa"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil || !strings.Contains(err.Error(), "iam.wildcard-action") || !strings.Contains(err.Error(), "AmazonS3FullAccess") {
		t.Fatalf("a pod with s3:* on * was not refused with the policy named: %v\n%s", err, tg.out.String())
	}
	cs, w := clientWithWarnings(t)
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, gpuPodAs("vllm", "vllm-sa"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("the least-privilege vLLM role was refused: %v", err)
	}
	if strings.Contains(w.String(), "iam.") {
		t.Errorf("unexpected IAM warnings for the vLLM role: %q", w)
	}
	if srv.Calls("GetRole") != 2 {
		t.Errorf("GetRole called %d times for two roles (the cache should answer the rest)", srv.Calls("GetRole"))
	}
}
