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
	"github.com/tollgate-dev/tollgate/internal/podidentity/ekstest"
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

// TestIAMPodIdentitySessionThroughTheAPIServer runs Tollgate with the EKS
// association source on (mutators.credentials.eks) against a loopback EKS
// endpoint (AWS_ENDPOINT_URL_EKS) and a loopback IAM endpoint. A session's
// permissions are the intersection of the role's and the session policy's
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_assumerole.html),
// so a pod whose role allows s3:* on * is admitted when its association's
// session policy allows s3:GetObject on one bucket, and so is a narrow role
// behind a wide session policy; the API server refuses with
// iam.s3-resource-star a wide role behind a wide session policy, or with
// none.
func TestIAMPodIdentitySessionThroughTheAPIServer(t *testing.T) {
	const (
		acct   = "arn:aws:iam::123456789012:role/"
		wide   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`
		narrow = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::agentic-ai-models/*"}]}`
	)
	is := iamtest.NewServer()
	defer is.Close()
	is.AddRole(iamtest.Role{ARN: acct + "wide-role", Inline: map[string]string{"all-s3": wide}})
	is.AddRole(iamtest.Role{ARN: acct + "narrow-role", Inline: map[string]string{"models": narrow}})
	es := ekstest.NewServer("ml")
	defer es.Close()
	ns := namespace(nil)
	es.Add(
		ekstest.Association{ID: "a-narrow", Namespace: ns, ServiceAccount: "narrow-session", RoleARN: acct + "wide-role", Policy: narrow, DisableSessionTags: true},
		ekstest.Association{ID: "a-wide", Namespace: ns, ServiceAccount: "wide-session", RoleARN: acct + "wide-role", Policy: wide, DisableSessionTags: true},
		ekstest.Association{ID: "a-none", Namespace: ns, ServiceAccount: "no-session", RoleARN: acct + "wide-role"},
		ekstest.Association{ID: "a-narrow-role", Namespace: ns, ServiceAccount: "narrow-role", RoleARN: acct + "narrow-role", Policy: wide, DisableSessionTags: true},
	)

	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(baseConfig+"    eks:\n      enabled: true\n      clusterName: ml\n      region: us-east-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort()
	// The second --config wins over the harness's.
	tg, err := startTollgateEnv(env.cp.Kubeconfig, hermeticEnv(
		"AWS_ENDPOINT_URL_IAM="+is.URL, "AWS_ENDPOINT_URL_EKS="+es.URL, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID="+iamtest.AccessKeyID, "AWS_SECRET_ACCESS_KEY=tollgate-test-secret",
	), "--cert-dir", env.cp.WebhookCertDir, "--port", strconv.Itoa(port), "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.stop()
	if err := installWebhooksAt(port, env.cp.WebhookCA, admissionregistrationv1.Fail); err != nil {
		t.Fatal(err)
	}
	restoreWebhooksAfter(t)

	ctx := context.Background()
	for _, sa := range []string{"narrow-session", "wide-session", "no-session", "narrow-role"} {
		serviceAccount(t, ns, sa, "")
	}
	for _, sa := range []string{"narrow-session", "narrow-role"} {
		cs, w := clientWithWarnings(t)
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, gpuPodAs(sa, sa), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatalf("%s: a session allowed s3:GetObject on one bucket only was refused: %v\n%s", sa, err, tg.out.String())
		}
		if strings.Contains(w.String(), "iam.") {
			t.Errorf("%s: IAM warnings for a session allowed s3:GetObject on one bucket only: %q", sa, w)
		}
	}
	for _, tc := range []struct{ sa, via string }{
		{"wide-session", "(via Pod Identity association a-wide, session policy)"},
		{"no-session", "(via Pod Identity association a-none)"},
	} {
		_, err := env.cs.CoreV1().Pods(ns).Create(ctx, gpuPodAs(tc.sa, tc.sa), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil || !strings.Contains(err.Error(), "iam.s3-resource-star") || !strings.Contains(err.Error(), "role "+acct+"wide-role "+tc.via) {
			t.Errorf("%s: a pod whose session allows s3:* on * was not refused with iam.s3-resource-star and the chain: %v", tc.sa, err)
		}
	}
	if list, describe := es.Calls(); list != 2 || describe != 4 || es.Rejected() != 0 {
		t.Errorf("EKS: %d List pages, %d descriptions, %d rejected; want 2 and 4 (one read), 0", list, describe, es.Rejected())
	}
	if is.Calls("GetRole") != 2 || is.Rejected() != 0 {
		t.Errorf("GetRole called %d times for two roles, %d rejected", is.Calls("GetRole"), is.Rejected())
	}
}
