package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// gpuPodWith is a restricted-compliant pod asking for qty GPUs.
func gpuPodWith(ns, qty string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"g","namespace":%q},"spec":{
"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"c","image":"i:1","resources":{"limits":{"nvidia.com/gpu":%q}},
"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`, ns, qty)
}

// TestHostileRequests: requests the API server never sends, or objects it
// accepts that Tollgate cannot judge, are refused with a 400-style answer
// that names the object and the field; none is admitted, none is a 5xx.
func TestHostileRequests(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000)
	for _, tc := range []struct {
		name    string
		body    []byte
		message string
	}{
		{"kind says Pod, object is a Deployment", envelope("CREATE", "Pod", "", "enforced", []byte(fmt.Sprintf(violatingDeployment, "enforced"))),
			"request.kind is v1 Pod but the object is apps/v1 Deployment"},
		{"kind says Pod, object is a ConfigMap", envelope("CREATE", "Pod", "", "enforced", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"enforced"}}`)),
			"request.kind is v1 Pod but the object is v1 ConfigMap"},
		{"kind says Deployment, object is a Pod", envelope("CREATE", "Deployment", "apps", "enforced", []byte(fmt.Sprintf(compliantPod, "enforced"))),
			"request.kind is apps/v1 Deployment but the object is v1 Pod"},
		{"namespace differs from request.namespace", envelope("CREATE", "Pod", "", "enforced", []byte(fmt.Sprintf(compliantPod, "kube-system"))),
			`metadata.namespace "kube-system" is not the request's namespace "enforced"`},
		{"a GPU count past any node", envelope("CREATE", "Pod", "", "enforced", []byte(gpuPodWith("enforced", "1e70000"))),
			`Pod enforced/g: spec.containers[0].resources.limits[nvidia.com/gpu]: 10e69999 is not a GPU count`},
		{"a GPU count past any node in a Job's template", envelope("CREATE", "Job", "batch", "enforced", []byte(`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j","namespace":"enforced"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"i:1","resources":{"requests":{"nvidia.com/mig-3g.40gb":"1e70000"}}}]}}}}`)),
			`Job enforced/j: spec.template.spec.containers[0].resources.requests[nvidia.com/mig-3g.40gb]: 10e69999 is not a GPU count`},
		{"a fraction of a GPU", envelope("CREATE", "Pod", "", "enforced", []byte(gpuPodWith("enforced", "500m"))),
			`spec.containers[0].resources.limits[nvidia.com/gpu]: 500m is not a GPU count`},
		{"JSON nested 5,000 deep in a NodePool", envelope("CREATE", "NodePool", "karpenter.sh", "", []byte(`{"apiVersion":"karpenter.sh/v1","kind":"NodePool","metadata":{"name":"np"},"spec":{"template":{"spec":{"x":`+deep+`}}}}`)),
			"NodePool np"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newValidator(t)
			rec, resp := serveWith(t, v, tc.body)
			if rec.Code != http.StatusOK {
				t.Fatalf("HTTP %d: %.300s", rec.Code, rec.Body.String())
			}
			if resp["allowed"] != false {
				t.Fatalf("admitted: %v", resp)
			}
			status, _ := resp["status"].(map[string]any)
			if code := status["code"]; code != float64(http.StatusBadRequest) {
				t.Errorf("code %v, want 400 (%v)", code, status["message"])
			}
			if msg := fmt.Sprint(status["message"]); !strings.Contains(msg, tc.message) {
				t.Errorf("message %.300q does not say %q", msg, tc.message)
			}
			if n := testutil.ToFloat64(v.Metrics.Requests.WithLabelValues("validate", "bad_request")); n != 1 {
				t.Errorf("bad_request counted %v times, want 1", n)
			}
		})
	}
}

// TestMutateNeverDenies: whatever goes wrong, /mutate admits the pod
// unchanged with a warning and counts the error; /validate decides.
func TestMutateNeverDenies(t *testing.T) {
	m, _ := newMutator(t, nil)
	for _, tc := range []struct {
		name, raw, outcome string
	}{
		{"undecodable pod", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":"all"}}`, "bad_request"},
		{"a GPU count past any node", gpuPodWith("default", "1e70000"), "bad_request"},
		{"object is not a pod", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}`, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(m.Metrics.Requests.WithLabelValues("mutate", tc.outcome))
			req := podRequest(admissionv1.Create, tc.raw)
			resp := m.Handle(context.Background(), req)
			if !resp.Allowed || len(resp.Patches) > 0 {
				t.Fatalf("allowed=%v with %d patches, want admitted unchanged: %v", resp.Allowed, len(resp.Patches), resp.Result)
			}
			if len(resp.Warnings) == 0 || !strings.Contains(resp.Warnings[0], "Tollgate did not mutate") {
				t.Errorf("warnings %q, want one saying the pod was not mutated", resp.Warnings)
			}
			if n := testutil.ToFloat64(m.Metrics.Requests.WithLabelValues("mutate", tc.outcome)) - before; n != 1 {
				t.Errorf("%s counted %v times, want 1", tc.outcome, n)
			}
		})
	}
}

// TestUpdateReviewed: a pod update is reviewed when ephemeral containers
// are added, or when the spec of a pod that still has scheduling gates
// changes; a label update or an update of an ungated pod is not.
func TestUpdateReviewed(t *testing.T) {
	const (
		plain       = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n"},"spec":{"containers":[{"name":"c","image":"i"}]}}`
		plainLabel  = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n","labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}`
		plainSpot   = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n"},"spec":{"nodeSelector":{"karpenter.sh/capacity-type":"spot"},"containers":[{"name":"c","image":"i"}]}}`
		gated       = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n"},"spec":{"schedulingGates":[{"name":"g"}],"containers":[{"name":"c","image":"i"}]}}`
		gatedLabel  = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n","labels":{"a":"b"}},"spec":{"schedulingGates":[{"name":"g"}],"containers":[{"name":"c","image":"i"}]}}`
		gatedSpot   = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n"},"spec":{"schedulingGates":[{"name":"g"}],"nodeSelector":{"karpenter.sh/capacity-type":"spot"},"containers":[{"name":"c","image":"i"}]}}`
		withDebug   = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n"},"spec":{"containers":[{"name":"c","image":"i"}],"ephemeralContainers":[{"name":"d","image":"busybox"}]}}`
		ungatedSpot = plainSpot
	)
	for _, tc := range []struct {
		name     string
		old, neu string
		want     bool
	}{
		{"label on an ungated pod", plain, plainLabel, false},
		{"label on a gated pod", gated, gatedLabel, false},
		{"Spot selector on a gated pod", gated, gatedSpot, true},
		{"the last gate removed with a Spot selector", gated, ungatedSpot, true},
		{"ephemeral container", plain, withDebug, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := kubeobjects.Decode([]byte(tc.neu), false)
			if err != nil {
				t.Fatal(err)
			}
			old, err := kubeobjects.Decode([]byte(tc.old), false)
			if err != nil {
				t.Fatal(err)
			}
			if got := updateReviewed(admission.Request{}, o, old); got != tc.want {
				t.Errorf("updateReviewed = %v, want %v", got, tc.want)
			}
		})
	}
}
