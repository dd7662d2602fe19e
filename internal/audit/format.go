package audit

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

// Formats are the report formats, as -o names them.
var Formats = []string{"table", "json", "sarif", "html", "policyreport", "openreports"}

// Meta is what reports print besides the results.
type Meta struct {
	// Policies are the engine's policies, for SARIF rules, HTML
	// remediation and report categories.
	Policies []*engine.Policy
	// Scope says what was audited ("cluster prod-eu, all namespaces").
	Scope string
	// Version is Tollgate's version.
	Version string
	// Now is the time of the audit, written in reports.
	Now time.Time
	// MaxResults caps the detailed results of one PolicyReport
	// (DefaultMaxResults when 0); summaries stay exact.
	MaxResults int
	// MaxRows caps the findings the HTML table lists (DefaultMaxRows
	// when 0), most severe first; counts and charts stay exact.
	MaxRows int
}

// NewReport returns the report of a format writing to w.
func NewReport(format string, w io.Writer, m Meta) (Report, error) {
	switch format {
	case "table":
		return NewTable(w), nil
	case "json":
		return NewJSON(w), nil
	case "sarif":
		return NewSARIF(w, m), nil
	case "html":
		return NewHTML(w, m), nil
	case "policyreport":
		return NewReportWriter(w, WGPolicy, m), nil
	case "openreports":
		return NewReportWriter(w, OpenReports, m), nil
	}
	return nil, fmt.Errorf("unknown output %q (want %s)", format, strings.Join(Formats, ", "))
}

// byID indexes policies by id.
func byID(ps []*engine.Policy) map[string]*engine.Policy {
	m := make(map[string]*engine.Policy, len(ps))
	for _, p := range ps {
		m[p.ID] = p
	}
	return m
}
