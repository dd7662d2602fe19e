//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/tollgate-dev/tollgate/certs"
)

// gpuPod is a restricted-compliant pod requesting one GPU.
func gpuPodAs(name, sa string) *corev1.Pod {
	p := restrictedPod(name)
	p.Spec.ServiceAccountName = sa
	p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
	return p
}

func serviceAccount(t *testing.T, ns, name, roleARN string) {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if roleARN != "" {
		sa.Annotations = map[string]string{"eks.amazonaws.com/role-arn": roleARN}
	}
	if _, err := env.cs.CoreV1().ServiceAccounts(ns).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func create(t *testing.T, p *corev1.Pod, ns string) *corev1.Pod {
	t.Helper()
	got, err := env.cs.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s/%s: %v", ns, p.Name, err)
	}
	return got
}

func envOf(c corev1.Container) map[string][]string {
	m := map[string][]string{}
	for _, e := range c.Env {
		m[e.Name] = append(m[e.Name], e.Value)
	}
	return m
}

func tolerationCount(p *corev1.Pod, key string) int {
	n := 0
	for _, t := range p.Spec.Tolerations {
		if t.Key == key {
			n++
		}
	}
	return n
}

func projectedToken(p *corev1.Pod, volume string) *corev1.ServiceAccountTokenProjection {
	for _, v := range p.Spec.Volumes {
		if v.Name == volume && v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					return s.ServiceAccountToken
				}
			}
		}
	}
	return nil
}

// TestMutateGPUPodWithIRSA: a GPU pod under an IRSA ServiceAccount (created
// a moment before it, so possibly read live) comes back with one GPU
// toleration, the IRSA environment and the projected token.
func TestMutateGPUPodWithIRSA(t *testing.T) {
	ns := namespace(nil)
	serviceAccount(t, ns, "vllm-sa", "arn:aws:iam::123456789012:role/vllm-pod-role")
	p := create(t, gpuPodAs("vllm-0", "vllm-sa"), ns)
	if n := tolerationCount(p, "nvidia.com/gpu"); n != 1 {
		t.Errorf("%d nvidia.com/gpu tolerations: %+v", n, p.Spec.Tolerations)
	}
	e := envOf(p.Spec.Containers[0])
	if got := e["AWS_ROLE_ARN"]; len(got) != 1 || got[0] != "arn:aws:iam::123456789012:role/vllm-pod-role" {
		t.Errorf("AWS_ROLE_ARN %v", got)
	}
	if got := e["AWS_WEB_IDENTITY_TOKEN_FILE"]; len(got) != 1 || got[0] != "/var/run/secrets/eks.amazonaws.com/serviceaccount/token" {
		t.Errorf("AWS_WEB_IDENTITY_TOKEN_FILE %v", got)
	}
	if got := e["AWS_REGION"]; len(got) != 1 || got[0] != "us-west-2" {
		t.Errorf("AWS_REGION %v", got)
	}
	if tok := projectedToken(p, "aws-iam-token"); tok == nil || tok.Audience != "sts.amazonaws.com" {
		t.Errorf("aws-iam-token volume %+v", tok)
	}
}

// TestMutatePodIdentity: an association (here from the configuration) wins
// over the ServiceAccount's IRSA annotation.
func TestMutatePodIdentity(t *testing.T) {
	ns := namedNamespace("e2e-pod-identity", nil, nil)
	serviceAccount(t, ns, "assoc-sa", "arn:aws:iam::123456789012:role/irsa-role")
	p := create(t, gpuPodAs("agent", "assoc-sa"), ns)
	e := envOf(p.Spec.Containers[0])
	if got := e["AWS_CONTAINER_CREDENTIALS_FULL_URI"]; len(got) != 1 || got[0] != "http://169.254.170.23/v1/credentials" {
		t.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI %v", got)
	}
	if got := e["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]; len(got) != 1 || got[0] != "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token" {
		t.Errorf("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %v", got)
	}
	if _, irsa := e["AWS_ROLE_ARN"]; irsa {
		t.Error("a Pod Identity pod also got IRSA's AWS_ROLE_ARN")
	}
	tok := projectedToken(p, "eks-pod-identity-token")
	if tok == nil || tok.Audience != "pods.eks.amazonaws.com" || tok.ExpirationSeconds == nil || *tok.ExpirationSeconds != 86400 {
		t.Errorf("eks-pod-identity-token volume %+v", tok)
	}
}

func migPod(name string, annotations map[string]string, resources corev1.ResourceList) *corev1.Pod {
	p := restrictedPod(name)
	p.Annotations = annotations
	p.Spec.Containers[0].Resources.Limits = resources
	return p
}

// TestMutateMIG: a pod naming a MIG profile (or in a namespace that does)
// is stored with the MIG resource instead of whole GPUs.
func TestMutateMIG(t *testing.T) {
	for _, tc := range []struct {
		name   string
		nsAnn  map[string]string
		podAnn map[string]string
	}{
		{"pod annotation", nil, map[string]string{"tollgate.dev/mig-profile": "3g.40gb"}},
		{"namespace default", map[string]string{"tollgate.dev/mig-profile": "3g.40gb"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := namedNamespace(fmt.Sprintf("e2e-mig-%d", time.Now().UnixNano()%100000), nil, tc.nsAnn)
			p := create(t, migPod("tenant-a", tc.podAnn, corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}), ns)
			r := p.Spec.Containers[0].Resources
			if _, ok := r.Limits["nvidia.com/gpu"]; ok {
				t.Errorf("limits still ask for nvidia.com/gpu: %v", r.Limits)
			}
			if q := r.Limits["nvidia.com/mig-3g.40gb"]; q.String() != "1" {
				t.Errorf("limits %v", r.Limits)
			}
			if q := r.Requests["nvidia.com/mig-3g.40gb"]; q.String() != "1" {
				t.Errorf("requests %v", r.Requests)
			}
		})
	}
}

// TestMIGRefusals: a profile that does not exist, one the selected GPUs do
// not offer, and whole GPUs with MIG slices in one container are refused.
func TestMIGRefusals(t *testing.T) {
	ns := namespace(nil)
	unknown := migPod("unknown", map[string]string{"tollgate.dev/mig-profile": "3g.41gb"}, corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")})
	onP4d := migPod("on-p4d", map[string]string{"tollgate.dev/mig-profile": "3g.40gb"}, corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")})
	onP4d.Spec.NodeSelector = map[string]string{"node.kubernetes.io/instance-type": "p4d.24xlarge"}
	mixed := migPod("mixed", nil, corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1"), "nvidia.com/mig-1g.10gb": resource.MustParse("1")})
	for _, tc := range []struct {
		pod  *corev1.Pod
		want []string
	}{
		{unknown, []string{"gpu.mig-profile", "3g.41gb", "3g.40gb"}},
		{onP4d, []string{"gpu.mig-profile", "A100-40GB"}},
		{mixed, []string{"gpu.mixed-resources"}},
	} {
		_, err := env.cs.CoreV1().Pods(ns).Create(context.Background(), tc.pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil {
			t.Errorf("%s was admitted", tc.pod.Name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error does not mention %q: %v", tc.pod.Name, w, err)
			}
		}
	}
}

// TestSpotDrain: a controller-owned pod that can land on Spot gets the
// native sleep preStop and a grace period to match; one that cannot gets
// nothing.
func TestSpotDrain(t *testing.T) {
	ns := namespace(nil)
	owner := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "vllm-7d9f", UID: "0b0c0d0e-0000-4000-8000-000000000001", Controller: ptr.To(true)}}
	spot := restrictedPod("spot-0")
	spot.OwnerReferences = owner
	spot.Spec.NodeSelector = map[string]string{"karpenter.sh/capacity-type": "spot"}
	got := create(t, spot, ns)
	c := got.Spec.Containers[0]
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds != 30 {
		t.Errorf("spot pod preStop %+v", c.Lifecycle)
	}
	if g := got.Spec.TerminationGracePeriodSeconds; g == nil || *g != 60 {
		t.Errorf("spot pod grace %v", g)
	}
	onDemand := restrictedPod("od-0")
	onDemand.OwnerReferences = owner
	if got := create(t, onDemand, ns); got.Spec.Containers[0].Lifecycle != nil {
		t.Errorf("on-demand pod got a lifecycle: %+v", got.Spec.Containers[0].Lifecycle)
	}
}

func TestMalformedRoleARNWarns(t *testing.T) {
	ns := namespace(nil)
	serviceAccount(t, ns, "bad-sa", "vllm-pod-role")
	cs, w := clientWithWarnings(t)
	p, err := cs.CoreV1().Pods(ns).Create(context.Background(), gpuPodAs("bad-arn", "bad-sa"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a pod with a malformed role ARN was refused: %v", err)
	}
	if _, ok := envOf(p.Spec.Containers[0])["AWS_ROLE_ARN"]; ok {
		t.Error("credentials were injected for a malformed role ARN")
	}
	if !strings.Contains(w.String(), "not an IAM role ARN") {
		t.Errorf("no warning about the role ARN: %q", w)
	}
}

func TestKubeSystemNotMutated(t *testing.T) {
	p := gpuPodAs("gpu-"+strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "-"), "")
	got := create(t, p, "kube-system")
	if tolerationCount(got, "nvidia.com/gpu") != 0 {
		t.Error("a kube-system pod was mutated")
	}
}

// TestReinvocationWithAnotherMutatingWebhook: a second mutating webhook that
// adds a sidecar after Tollgate runs makes the API server call Tollgate
// again (reinvocationPolicy IfNeeded); the pod converges with one
// toleration, the sidecar gets the credentials once, nothing is duplicated.
func TestReinvocationWithAnotherMutatingWebhook(t *testing.T) {
	url, ca := sidecarWebhook(t)
	ar := env.cs.AdmissionregistrationV1()
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "zzz-sidecar-injector"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "sidecar.e2e.example.com",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{"CREATE"}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			ReinvocationPolicy:      ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy),
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"e2e-sidecar": "on"}},
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if _, err := ar.MutatingWebhookConfigurations().Create(context.Background(), cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := ar.MutatingWebhookConfigurations().Delete(context.Background(), cfg.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("removing the second mutating webhook: %v", err)
		}
	}()
	time.Sleep(2 * time.Second)
	ns := namespace(map[string]string{"e2e-sidecar": "on"})
	serviceAccount(t, ns, "vllm-sa", "arn:aws:iam::123456789012:role/vllm-pod-role")
	p := create(t, gpuPodAs("with-sidecar", "vllm-sa"), ns)
	if len(p.Spec.Containers) != 2 || p.Spec.Containers[1].Name != "proxy" {
		t.Fatalf("the sidecar webhook did not run: %d containers", len(p.Spec.Containers))
	}
	if n := tolerationCount(p, "nvidia.com/gpu"); n != 1 {
		t.Errorf("%d GPU tolerations after reinvocation", n)
	}
	for _, c := range p.Spec.Containers {
		for name, values := range envOf(c) {
			if len(values) > 1 {
				t.Errorf("container %s: %s set %d times", c.Name, name, len(values))
			}
		}
		if got := envOf(c)["AWS_ROLE_ARN"]; len(got) != 1 {
			t.Errorf("container %s: AWS_ROLE_ARN %v (the reinvocation should have given the sidecar its credentials)", c.Name, got)
		}
	}
}

// sidecarWebhook serves a mutating webhook that adds a "proxy" container
// when a pod has none, over TLS on loopback.
func sidecarWebhook(t *testing.T) (string, []byte) {
	t.Helper()
	ca, err := certs.NewCA("sidecar-ca", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := certs.NewServing(ca, nil, []net.IP{net.ParseIP("127.0.0.1")}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ar admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&ar); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var pod corev1.Pod
		_ = json.Unmarshal(ar.Request.Object.Raw, &pod)
		resp := &admissionv1.AdmissionResponse{UID: ar.Request.UID, Allowed: true}
		has := false
		for _, c := range pod.Spec.Containers {
			has = has || c.Name == "proxy"
		}
		if !has {
			patch, _ := json.Marshal([]map[string]any{{"op": "add", "path": "/spec/containers/-", "value": map[string]any{
				"name": "proxy", "image": "envoyproxy/envoy:v1.31.0",
				"securityContext": map[string]any{"allowPrivilegeEscalation": false, "capabilities": map[string]any{"drop": []string{"ALL"}}},
			}}})
			pt := admissionv1.PatchTypeJSONPatch
			resp.Patch, resp.PatchType = patch, &pt
		}
		out := admissionv1.AdmissionReview{TypeMeta: ar.TypeMeta, Response: resp}
		_ = json.NewEncoder(w).Encode(out)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + l.Addr().String() + "/mutate", ca.CertPEM
}
