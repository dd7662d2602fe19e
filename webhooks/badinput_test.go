package webhooks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// envelope wraps an object in an AdmissionReview request.
func envelope(op, kind, group, ns string, object []byte) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1","kind":{"group":"` + group +
		`","version":"v1","kind":"` + kind + `"},"resource":{"group":"` + group + `","version":"v1","resource":"x"},"namespace":"` + ns +
		`","operation":"` + op + `","userInfo":{"username":"alice"},"object":` + string(object) + `}}`)
}

func serve(t *testing.T, body []byte) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	return serveWith(t, newValidator(t), body)
}

func serveWith(t *testing.T, v *ValidatingHandler, body []byte) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	h := Handler(v)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body)))
	var out struct {
		Response map[string]any `json:"response"`
	}
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("200 without a JSON AdmissionReview: %v", err)
		}
	}
	return rec, out.Response
}

// TestHugePod: 1,000 containers with long names and values, and deeply
// nested fields, are reviewed (and the privileged one denied) well within
// the API server's timeout.
func TestHugePod(t *testing.T) {
	var cs []string
	long := strings.Repeat("x", 4096)
	for i := range 1000 {
		sc := ""
		if i == 999 {
			sc = `,"securityContext":{"privileged":true}`
		}
		cs = append(cs, fmt.Sprintf(`{"name":"c%d","image":"i:1","env":[{"name":"E","value":"%s"}]%s}`, i, long, sc))
	}
	nested := strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200)
	pod := fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"huge","namespace":"enforced","annotations":{"deep":%q}},"spec":{"containers":[%s]}}`,
		nested, strings.Join(cs, ","))
	start := time.Now()
	rec, resp := serve(t, envelope("CREATE", "Pod", "", "enforced", []byte(pod)))
	if rec.Code != http.StatusOK || resp["allowed"] != false {
		t.Fatalf("HTTP %d, response %v", rec.Code, resp)
	}
	msg := fmt.Sprint(resp["status"])
	if !strings.Contains(msg, `container "c999" must not set securityContext.privileged=true`) {
		t.Errorf("the privileged container is not named: %.300s", msg)
	}
	t.Logf("1,000-container pod (%d KiB) reviewed in %s", len(pod)/1024, time.Since(start))
}

func TestBadObjects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    []byte
		code    int
		allowed any
		message string
	}{
		{"invalid UTF-8 in the body", []byte("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"\xff\xfe\"}}"), http.StatusOK, nil, ""},
		{"invalid UTF-8 in the object", envelope("CREATE", "Pod", "", "enforced", []byte("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":\"\xff\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}")), http.StatusOK, false, ""},
		{"CONNECT", envelope("CONNECT", "Pod", "", "enforced", []byte(`{}`)), http.StatusOK, true, "operation CONNECT is not reviewed"},
		{"pod with no containers", envelope("CREATE", "Pod", "", "enforced", []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"empty"},"spec":{}}`)), http.StatusOK, true, ""},
		{"unknown fields are ignored", envelope("CREATE", "Pod", "", "enforced", []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","future":1},"spec":{"newField":{"x":1},"containers":[{"name":"c","image":"i","securityContext":{"privileged":true}}]}}`)), http.StatusOK, false, "pss.baseline.privileged"},
		{"wrongly typed field", envelope("CREATE", "Pod", "", "enforced", []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":"all"}}`)), http.StatusOK, false, "field spec.containers"},
		{"NodePool not karpenter.sh/v1", envelope("CREATE", "NodePool", "karpenter.sh", "", []byte(`{"apiVersion":"karpenter.sh/v1beta1","kind":"NodePool","metadata":{"name":"np"}}`)), http.StatusOK, false, "apiVersion karpenter.sh/v1beta1 is not supported (want karpenter.sh/v1)"},
		{"object is not an object", envelope("CREATE", "Pod", "", "enforced", []byte(`[1,2]`)), http.StatusOK, false, "not a Kubernetes object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, resp := serve(t, tc.body)
			if rec.Code != tc.code {
				t.Fatalf("HTTP %d, want %d: %s", rec.Code, tc.code, rec.Body.String())
			}
			if tc.allowed != nil && resp["allowed"] != tc.allowed {
				t.Errorf("allowed=%v, want %v (%v)", resp["allowed"], tc.allowed, resp)
			}
			if !strings.Contains(fmt.Sprint(resp), tc.message) {
				t.Errorf("response %v does not mention %q", resp, tc.message)
			}
		})
	}
}

// TestSlowBody: a client that sends its headers and then trickles the body
// is cut off after BodyReadTimeout, instead of holding the connection.
func TestSlowBody(t *testing.T) {
	defer func(d time.Duration) { BodyReadTimeout = d }(BodyReadTimeout)
	BodyReadTimeout = 300 * time.Millisecond
	srv := httptest.NewServer(Handler(newValidator(t)))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
	// The client's 10 s read deadline is the bound: without the body
	// deadline the server would wait for the rest of the body forever and
	// ReadResponse would fail above.
}
