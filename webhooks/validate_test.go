package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

const namespaces = `
apiVersion: v1
kind: Namespace
metadata: {name: enforced}
---
apiVersion: v1
kind: Namespace
metadata: {name: warned, labels: {tollgate.dev/pss: warn}}
---
apiVersion: v1
kind: Namespace
metadata: {name: audited, labels: {tollgate.dev/pss: audit}}
`

var (
	reviewerOnce sync.Once
	testReviewer *review.Reviewer
	reviewerErr  error
)

func newValidator(t testing.TB) *ValidatingHandler {
	t.Helper()
	reviewerOnce.Do(func() {
		cfg := config.Default()
		e, err := wiring.NewEngine(context.Background(), cfg, nil)
		if err != nil {
			reviewerErr = err
			return
		}
		docs, errs := manifest.Parse("namespaces.yaml", []byte(namespaces), true)
		if len(errs) > 0 {
			reviewerErr = errs[0]
			return
		}
		st := state.NewStatic()
		for _, d := range docs {
			st.Add(d.Object)
		}
		testReviewer, reviewerErr = wiring.NewReviewer(engine.NewHolder(e), cfg, st, wiring.Deps{})
	})
	if reviewerErr != nil {
		t.Fatal(reviewerErr)
	}
	m := NewMetrics(prometheus.NewRegistry())
	return &ValidatingHandler{Reviewer: testReviewer, Metrics: m}
}

const compliantPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"ok","namespace":"%s"},"spec":{
"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"c","image":"i:1","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`

const rootPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"root","namespace":"%s"},"spec":{
"containers":[{"name":"c","image":"i:1","securityContext":{"privileged":true}}]}}`

const violatingDeployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"%s"},"spec":{
"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"i:1"}]}}}}`

func admit(t *testing.T, op, kind, group, ns, object string) (*http.Response, admissionv1.AdmissionReview) {
	t.Helper()
	obj := strings.ReplaceAll(object, "%s", ns)
	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-123","kind":{"group":"` + group + `","version":"v1","kind":"` + kind + `"},
"resource":{"group":"","version":"v1","resource":"pods"},"namespace":"` + ns + `","operation":"` + op + `","userInfo":{"username":"alice"},"object":` + obj + `}}`
	return post(t, newValidator(t), []byte(body))
}

func post(t *testing.T, v *ValidatingHandler, body []byte) (*http.Response, admissionv1.AdmissionReview) {
	t.Helper()
	srv := httptest.NewServer(Handler(v))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ar admissionv1.AdmissionReview
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &ar); err != nil {
			t.Fatalf("response is not an AdmissionReview: %v\n%s", err, b)
		}
	}
	return resp, ar
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name            string
		op, kind, group string
		ns, object      string
		allowed         bool
		message         string
		warning         string
		auditAnnotation string
	}{
		{"compliant pod", "CREATE", "Pod", "", "enforced", compliantPod, true, "", "", ""},
		{"privileged pod denied", "CREATE", "Pod", "", "enforced", rootPod, false, "pss.baseline.privileged: privileged (container \"c\" must not set securityContext.privileged=true)", "", ""},
		{"warn namespace", "CREATE", "Pod", "", "warned", rootPod, true, "", "pss.baseline.privileged: privileged", ""},
		{"audit namespace", "CREATE", "Pod", "", "audited", rootPod, true, "", "", "pss.baseline.privileged"},
		{"exempt namespace", "CREATE", "Pod", "", "kube-system", rootPod, true, "", "", ""},
		{"template warns", "CREATE", "Deployment", "apps", "enforced", violatingDeployment, true, "", "pss.restricted.runAsNonRoot", ""},
		{"delete not reviewed", "DELETE", "Pod", "", "enforced", rootPod, true, "", "", ""},
		{"unknown kind", "CREATE", "ConfigMap", "", "enforced", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`, true, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, ar := admit(t, tc.op, tc.kind, tc.group, tc.ns, tc.object)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d", resp.StatusCode)
			}
			r := ar.Response
			if r == nil || r.UID != "u-123" {
				t.Fatalf("response does not echo the request uid: %+v", r)
			}
			if r.Allowed != tc.allowed {
				t.Fatalf("allowed=%v, want %v (%+v)", r.Allowed, tc.allowed, r.Result)
			}
			if tc.message != "" && (r.Result == nil || !strings.Contains(r.Result.Message, tc.message)) {
				t.Errorf("message %+v does not contain %q", r.Result, tc.message)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q do not contain %q", r.Warnings, tc.warning)
			}
			if tc.warning == "" && len(r.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", r.Warnings)
			}
			if tc.auditAnnotation != "" {
				if _, ok := r.AuditAnnotations[tc.auditAnnotation]; !ok {
					t.Errorf("audit annotations %v lack %s", r.AuditAnnotations, tc.auditAnnotation)
				}
			}
		})
	}
}

func TestMalformedRequests(t *testing.T) {
	v := newValidator(t)
	for _, tc := range []struct {
		name string
		body []byte
		code int
	}{
		{"empty", nil, http.StatusBadRequest},
		{"not json", []byte("{nope"), http.StatusBadRequest},
		{"wrong apiVersion", []byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`), http.StatusBadRequest},
		{"wrong kind", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"Pod"}`), http.StatusBadRequest},
		{"no request", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest},
		{"no uid", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`), http.StatusBadRequest},
		{"too large", bytes.Repeat([]byte(" "), MaxBodyBytes+1), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := post(t, v, tc.body)
			if resp.StatusCode != tc.code {
				t.Errorf("HTTP %d, want %d", resp.StatusCode, tc.code)
			}
		})
	}
}

// FuzzHandler sends arbitrary bodies through the real handler: it must never
// panic, must answer with 200, 400 or 413, and every 200 must echo the uid.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"a","operation":"CREATE","namespace":"enforced","object":` + strings.ReplaceAll(rootPod, "%s", "enforced") + `}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"b","operation":"CREATE","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":null}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"c","operation":"UPDATE","object":{"apiVersion":"apps/v1","kind":"Deployment"},"oldObject":{}}}`))
	f.Add([]byte(`{}`))
	v := newValidator(f)
	h := Handler(v)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var in struct {
				Request struct {
					UID string `json:"uid"`
				} `json:"request"`
			}
			_ = json.Unmarshal(body, &in)
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("200 without an AdmissionReview response: %s", rec.Body.String())
			}
			if string(out.Response.UID) != in.Request.UID {
				t.Fatalf("uid %q not echoed (got %q)", in.Request.UID, out.Response.UID)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("unexpected HTTP %d: %s", rec.Code, rec.Body.String())
		}
	})
}
