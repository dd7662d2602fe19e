package baredecoder

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	var recorded []string
	h := Handler(func(b []byte) { recorded = append(recorded, string(b)) })
	review := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","userInfo":{},"object":{"apiVersion":"v1","kind":"Pod"}}}`
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"review", review, http.StatusOK},
		{"not json", "{", http.StatusBadRequest},
		{"no request", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recorded = nil
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/validate", strings.NewReader(tc.body)))
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status != http.StatusOK {
				if len(recorded) != 0 {
					t.Error("a bad request was recorded")
				}
				return
			}
			var out struct {
				APIVersion, Kind string
				Response         struct {
					UID     string
					Allowed bool
				}
			}
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			if out.Kind != "AdmissionReview" || out.APIVersion != "admission.k8s.io/v1" || out.Response.UID != "u-1" || !out.Response.Allowed {
				t.Errorf("answer %s: want an allowed AdmissionReview with uid u-1", w.Body)
			}
			if len(recorded) != 1 || recorded[0] != tc.body {
				t.Errorf("recorded %q, want the request body", recorded)
			}
		})
	}
}
