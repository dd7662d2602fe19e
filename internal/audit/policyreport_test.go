package audit

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// synthetic returns the result of a pod with findings of the given
// severities and actions, each message n bytes long.
func synthetic(ns, name string, n int, findings ...[2]string) *Result {
	r := &Result{Result: review.Result{
		Object:  kubeobjects.Ref{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: name},
		Allowed: true,
	}, UID: "uid-" + name}
	for i, f := range findings {
		act := engine.Action(f[1])
		if act == engine.ActionDeny {
			r.Allowed = false
		}
		r.Violations = append(r.Violations, review.Violation{
			Policy: fmt.Sprintf("pss.check%d", i), Severity: f[0], Action: act,
			Message: strings.Repeat("m", n), Path: "spec.containers[0]",
		})
	}
	return r
}

// TestReportBounds: however many findings a namespace has, its report
// lists at most MaxResults of them, the most severe, stays below
// MaxReportBytes, and counts every one in its summary.
func TestReportBounds(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pods       int
		msgBytes   int
		maxResults int
	}{
		{"many findings", 20000, 120, 500},
		{"long messages", 3000, 10000, 5000},
		{"few findings", 3, 50, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewReportBuilder(WGPolicy, Meta{Now: testNow, MaxResults: tc.maxResults})
			deny, warn := 0, 0
			for i := range tc.pods {
				sev := []string{"low", "medium", "high", "critical"}[i%4]
				r := synthetic("ai", fmt.Sprintf("pod-%05d", i), tc.msgBytes, [2]string{sev, "deny"}, [2]string{"low", "audit"})
				deny++
				warn++
				b.Add(r)
			}
			b.Add(synthetic("ai", "clean", 10))
			objs := b.Objects()
			if len(objs) != 1 {
				t.Fatalf("%d reports, want 1", len(objs))
			}
			o := objs[0]
			if o.Summary.Fail != deny || o.Summary.Warn != warn || o.Summary.Pass != 1 {
				t.Errorf("summary %+v, want fail %d, warn %d, pass 1", o.Summary, deny, warn)
			}
			size := ReportSize(o)
			if size > MaxReportBytes {
				t.Errorf("report is %d bytes, more than %d", size, MaxReportBytes)
			}
			if len(o.Results) > tc.maxResults {
				t.Errorf("%d results listed, cap %d", len(o.Results), tc.maxResults)
			}
			total := deny + warn
			omitted, _ := strconv.Atoi(o.Metadata.Annotations[AnnotationOmitted])
			if len(o.Results)+omitted != total {
				t.Errorf("%d listed + %d omitted != %d findings", len(o.Results), omitted, total)
			}
			// Most severe first: nothing listed is less severe than
			// something left out, and the listing is ordered.
			for i := 1; i < len(o.Results); i++ {
				if compareResults(o.Results[i-1], o.Results[i]) > 0 {
					t.Fatalf("results %d and %d are out of order", i-1, i)
				}
			}
			if omitted > 0 && o.Results[0].Severity != "critical" {
				t.Errorf("a capped report starts with %s, want critical", o.Results[0].Severity)
			}
			for _, r := range o.Results {
				if len(r.Message) > maxMessageBytes {
					t.Fatalf("a message of %d bytes, cap %d", len(r.Message), maxMessageBytes)
				}
			}
			t.Logf("%d findings: %d listed, %d bytes", total, len(o.Results), size)
		})
	}
}

func TestReportResultsMapActions(t *testing.T) {
	b := NewReportBuilder(OpenReports, Meta{Now: testNow})
	b.Add(synthetic("", "gpu-pool", 10, [2]string{"high", "deny"}, [2]string{"medium", "warn"}, [2]string{"low", "audit"}))
	o := b.Objects()[0]
	if o.Kind != "ClusterReport" || o.Metadata.Namespace != "" || o.Configuration == nil || o.Configuration.Limits.MaxResults != DefaultMaxResults {
		t.Fatalf("cluster report %+v", o)
	}
	got := map[string]string{}
	for _, r := range o.Results {
		got[r.Properties["action"]] = fmt.Sprintf("%s/%v", r.Result, r.Scored)
	}
	want := map[string]string{"deny": "fail/true", "warn": "warn/false", "audit": "warn/false"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("action %s: result %s, want %s", k, got[k], v)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"0123456789abc", 10, "0123456…"},
		{"ééééé", 7, "éé…"}, // never cuts a rune in two
	} {
		if got := truncate(tc.in, tc.n); got != tc.want || len(got) > tc.n {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
