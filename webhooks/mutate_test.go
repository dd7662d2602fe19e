package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	jsonpatchapply "github.com/evanphx/json-patch/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

const mutateState = `
apiVersion: v1
kind: Namespace
metadata: {name: ai-inference}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: vllm-sa
  namespace: ai-inference
  annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/vllm-pod-role"}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: broken
  namespace: ai-inference
  annotations: {eks.amazonaws.com/role-arn: "vllm-pod-role"}
`

// gpuPod is a compliant GPU pod as the API server sends it (quantities as
// strings, namespace from the URL only).
const gpuPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"vllm-0"%s},"spec":{"serviceAccountName":"%s",
"securityContext":{"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"vllm","image":"vllm/vllm-openai:v0.6.3","resources":{"limits":{"nvidia.com/gpu":"1"},"requests":{"nvidia.com/gpu":"1"}},
"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`

func podJSON(annotations, sa string) string {
	meta := ""
	if annotations != "" {
		meta = `,"annotations":` + annotations
	}
	return fmt.Sprintf(gpuPod, meta, sa)
}

func newMutator(t testing.TB, st state.Reader, opts ...review.Option) (*MutatingHandler, *review.Reviewer) {
	t.Helper()
	cfg := config.Default()
	e, err := wiring.NewEngine(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st == nil {
		s := state.NewStatic()
		docs, errs := manifest.Parse("state.yaml", []byte(mutateState), true)
		if len(errs) > 0 {
			t.Fatal(errs[0])
		}
		for _, d := range docs {
			s.Add(d.Object)
		}
		st = s
	}
	var r *review.Reviewer
	if len(opts) > 0 {
		r, err = review.New(engine.NewHolder(e), cfg, st, opts...)
	} else {
		r, err = wiring.NewReviewer(engine.NewHolder(e), cfg, st, wiring.Deps{})
	}
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(prometheus.NewRegistry())
	return &MutatingHandler{Reviewer: r, Metrics: m}, r
}

func podRequest(op admissionv1.Operation, raw string) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "u-1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Namespace: "ai-inference", Operation: op,
		UserInfo: authenticationv1.UserInfo{Username: "system:serviceaccount:kube-system:replicaset-controller"},
		Object:   runtime.RawExtension{Raw: []byte(raw)},
	}}
}

// apply applies a response's patch as the API server does.
func apply(t *testing.T, raw string, resp admission.Response) string {
	t.Helper()
	if len(resp.Patches) == 0 {
		return raw
	}
	b, err := json.Marshal(resp.Patches)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatchapply.DecodePatch(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply([]byte(raw))
	if err != nil {
		t.Fatalf("the patch does not apply to the submitted object: %v\n%s", err, b)
	}
	return string(out)
}

func decodePod(t *testing.T, raw string) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestMutateGPUPodAndReinvocation(t *testing.T) {
	m, _ := newMutator(t, nil)
	ctx := context.Background()
	submitted := podJSON("", "vllm-sa")
	resp := m.Handle(ctx, podRequest(admissionv1.Create, submitted))
	if !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("allowed %v warnings %q result %+v", resp.Allowed, resp.Warnings, resp.Result)
	}
	for _, op := range resp.Patches {
		if op.Operation != "add" || op.Path == "/spec/containers" {
			t.Errorf("the patch only adds, and never replaces whole arrays: %s %s", op.Operation, op.Path)
		}
	}
	mutated := apply(t, submitted, resp)
	p := decodePod(t, mutated)
	if len(p.Spec.Tolerations) != 1 || p.Spec.Tolerations[0].Key != "nvidia.com/gpu" {
		t.Errorf("tolerations %+v, want the GPU toleration once", p.Spec.Tolerations)
	}
	env := p.Spec.Containers[0].Env
	if len(env) != 2 || env[0].Name != "AWS_ROLE_ARN" || env[0].Value != "arn:aws:iam::123456789012:role/vllm-pod-role" {
		t.Errorf("IRSA env %+v", env)
	}
	if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].Name != "aws-iam-token" {
		t.Errorf("volumes %+v", p.Spec.Volumes)
	}

	// Reinvoked with nothing else changed: nothing more to do.
	if again := m.Handle(ctx, podRequest(admissionv1.Create, mutated)); len(again.Patches) != 0 {
		t.Errorf("reinvocation patched again: %+v", again.Patches)
	}
	// Another webhook added a sidecar before the reinvocation: only the
	// sidecar gets credentials, nothing is duplicated.
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "istio-proxy", Image: "istio/proxyv2:1.24.0"})
	withSidecar, _ := json.Marshal(p)
	again := m.Handle(ctx, podRequest(admissionv1.Create, string(withSidecar)))
	var paths []string
	for _, op := range again.Patches {
		paths = append(paths, op.Operation+" "+op.Path)
	}
	if want := []string{"add /spec/containers/1/env", "add /spec/containers/1/volumeMounts"}; !slices.Equal(paths, want) {
		t.Errorf("reinvocation after a sidecar: %v, want %v", paths, want)
	}
}

func TestMutateSkips(t *testing.T) {
	m, _ := newMutator(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		req  admission.Request
		msg  string
	}{
		{"update", podRequest(admissionv1.Update, podJSON("", "vllm-sa")), "operation UPDATE is not mutated"},
		{"not a pod", func() admission.Request {
			r := podRequest(admissionv1.Create, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}}`)
			r.Kind = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
			return r
		}(), "only pods are mutated"},
		{"exempt namespace", func() admission.Request {
			r := podRequest(admissionv1.Create, podJSON("", "vllm-sa"))
			r.Namespace = "kube-system"
			return r
		}(), "namespace kube-system is exempt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := m.Handle(ctx, tc.req)
			if !resp.Allowed || len(resp.Patches) != 0 || resp.Result.Message != tc.msg {
				t.Errorf("allowed %v patches %v message %q, want %q", resp.Allowed, resp.Patches, resp.Result.Message, tc.msg)
			}
		})
	}
	resp := m.Handle(ctx, podRequest(admissionv1.Create, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"c","ports":[{"containerPort":"http"}]}]}}`))
	// Admitted unchanged with the reason as a warning: /validate refuses it.
	if !resp.Allowed || len(resp.Patches) != 0 || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "containerPort") {
		t.Errorf("a pod that does not decode: allowed %v, patches %v, warnings %q", resp.Allowed, resp.Patches, resp.Warnings)
	}
}

// TestMutateThenValidate runs a pod through /mutate and the result through
// /validate, as the API server does: a bad MIG profile is left alone by the
// mutator and denied by the validator with the valid profiles.
func TestMutateThenValidate(t *testing.T) {
	m, r := newMutator(t, nil)
	v := &ValidatingHandler{Reviewer: r, Metrics: m.Metrics}
	ctx := context.Background()
	for _, tc := range []struct {
		name, annotations string
		resource          string
		denied            string
		warning           string
	}{
		{"valid profile", `{"tollgate.dev/mig-profile":"3g.40gb"}`, "nvidia.com/mig-3g.40gb", "", ""},
		{"unknown profile", `{"tollgate.dev/mig-profile":"3g.41gb"}`, "nvidia.com/gpu", `gpu.mig-profile: MIG profile "3g.41gb" (pod annotation tollgate.dev/mig-profile) is not a MIG profile of any GPU Tollgate knows; valid profiles: 1g.5gb, 1g.6gb, 1g.10gb`, ""},
		{"malformed role", ``, "nvidia.com/gpu", "", `ServiceAccount ai-inference/broken annotation eks.amazonaws.com/role-arn: "vllm-pod-role" is not an IAM role ARN`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sa := "vllm-sa"
			if tc.warning != "" {
				sa = "broken"
			}
			submitted := podJSON(tc.annotations, sa)
			resp := m.Handle(ctx, podRequest(admissionv1.Create, submitted))
			if !resp.Allowed {
				t.Fatalf("/mutate never denies: %+v", resp.Result)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(resp.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q, want %q", resp.Warnings, tc.warning)
			}
			mutated := apply(t, submitted, resp)
			if _, ok := decodePod(t, mutated).Spec.Containers[0].Resources.Limits[corev1.ResourceName(tc.resource)]; !ok {
				t.Errorf("limits %v, want %s", decodePod(t, mutated).Spec.Containers[0].Resources.Limits, tc.resource)
			}
			vr := v.Handle(ctx, podRequest(admissionv1.Create, mutated))
			switch {
			case tc.denied == "" && !vr.Allowed:
				t.Errorf("/validate denied the mutated pod: %s", vr.Result.Message)
			case tc.denied != "" && (vr.Allowed || !strings.Contains(vr.Result.Message, tc.denied)):
				t.Errorf("/validate: allowed %v message %q, want %q", vr.Allowed, vr.Result.Message, tc.denied)
			}
		})
	}
}

// failingSA is cluster state whose ServiceAccounts cannot be read in time.
type failingSA struct{ *state.Static }

func (failingSA) ServiceAccount(context.Context, string, string) (*corev1.ServiceAccount, error) {
	return nil, fmt.Errorf("%w (500ms)", state.ErrTimeout)
}

func TestMutateMetrics(t *testing.T) {
	ctx := context.Background()
	m, _ := newMutator(t, failingSA{state.NewStatic()})
	resp := m.Handle(ctx, podRequest(admissionv1.Create, podJSON("", "vllm-sa")))
	if !resp.Allowed || len(resp.Patches) != 0 {
		t.Fatalf("a ServiceAccount that cannot be read: allowed %v patches %v", resp.Allowed, resp.Patches)
	}
	want := "Pod ai-inference/vllm-0 was not mutated: cluster state unavailable: ServiceAccount ai-inference/vllm-sa: state not read in time (500ms)"
	if !slices.Equal(resp.Warnings, []string{want}) {
		t.Errorf("warnings %q, want %q", resp.Warnings, want)
	}
	if got := testutil.ToFloat64(m.Metrics.MutationsSkipped); got != 1 {
		t.Errorf("tollgate_mutations_skipped_total %v, want 1", got)
	}

	escalate := mutatorFunc(func(_ context.Context, mr *review.MutationRequest) error {
		yes := true
		mr.Pod.Spec.HostNetwork = yes
		return nil
	})
	m, _ = newMutator(t, state.NewStatic(), review.WithMutator(escalate))
	resp = m.Handle(ctx, podRequest(admissionv1.Create, podJSON("", "vllm-sa")))
	if !resp.Allowed || len(resp.Patches) != 0 || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "pss.baseline.hostNamespaces") {
		t.Errorf("a mutation that causes a denial: patches %v warnings %q", resp.Patches, resp.Warnings)
	}
	if got := testutil.ToFloat64(m.Metrics.MutationsReverted.WithLabelValues("pss.baseline.hostNamespaces")); got != 1 {
		t.Errorf("tollgate_mutations_reverted_total %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.Metrics.Requests.WithLabelValues("mutate", "allowed")); got != 1 {
		t.Errorf("requests counted %v", got)
	}
}

type mutatorFunc func(ctx context.Context, m *review.MutationRequest) error

func (f mutatorFunc) Mutate(ctx context.Context, m *review.MutationRequest) error { return f(ctx, m) }

// TestMutateHTTP goes through the HTTP envelope: the patch is a base64
// JSONPatch in the AdmissionReview response, with the request's UID.
func TestMutateHTTP(t *testing.T) {
	m, _ := newMutator(t, nil)
	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-42","kind":{"group":"","version":"v1","kind":"Pod"},
"resource":{"group":"","version":"v1","resource":"pods"},"namespace":"ai-inference","operation":"CREATE","userInfo":{"username":"alice"},"object":` + podJSON("", "vllm-sa") + `}}`
	resp, ar := postTo(t, Handler(m), []byte(body))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	r := ar.Response
	if r == nil || r.UID != "u-42" || !r.Allowed || r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("response %+v", r)
	}
	var ops []map[string]any
	if err := json.Unmarshal(r.Patch, &ops); err != nil || len(ops) == 0 {
		t.Fatalf("patch %s: %v", r.Patch, err)
	}
}

func BenchmarkMutateWebhook(b *testing.B) {
	m, _ := newMutator(b, nil)
	req := podRequest(admissionv1.Create, podJSON(`{"tollgate.dev/mig-profile":"3g.40gb"}`, "vllm-sa"))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if resp := m.Handle(ctx, req); len(resp.Patches) == 0 {
			b.Fatal("no patch")
		}
	}
}

func postTo(t *testing.T, h http.Handler, body []byte) (*http.Response, admissionv1.AdmissionReview) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ar admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&ar); err != nil {
		t.Fatalf("response is not an AdmissionReview: %v", err)
	}
	return resp, ar
}
