package audit

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// TestExceptedFindingsListed: excepted findings are counted apart from
// findings, per exception, and listed in the table with the exception.
func TestExceptedFindingsListed(t *testing.T) {
	r := &Result{Result: review.Result{
		Object: kubeobjects.Ref{Kind: "Pod", Namespace: "gpu-monitoring", Name: "dcgm-exporter-x"}, Allowed: true,
		Excepted: []review.Excepted{{
			Violation: review.Violation{Policy: "pss.baseline.privileged", Severity: "critical", Action: "deny", Message: "privileged"},
			Exception: review.ExceptionRef{Namespace: "gpu-monitoring", Name: "dcgm-host", ExpiresAt: "2027-03-01T00:00:00Z"},
		}},
	}}
	s := NewSummary()
	s.Add(r)
	if s.Findings != 0 || s.Excepted != 1 || s.ExceptedBy["gpu-monitoring/dcgm-host"] != 1 {
		t.Errorf("summary findings %d excepted %d by %v", s.Findings, s.Excepted, s.ExceptedBy)
	}
	var b bytes.Buffer
	tab := NewTable(&b)
	if err := tab.Add(r); err != nil {
		t.Fatal(err)
	}
	if err := tab.Close(s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "excepted by PolicyException gpu-monitoring/dcgm-host until 2027-03-01T00:00:00Z: privileged") {
		t.Errorf("table does not list the excepted finding:\n%s", b.String())
	}
}
