package audit

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// Table prints one line per finding, grouped by object, and the summary.
// Objects without findings are only counted. It keeps the lines it will
// print, not the objects.
type Table struct {
	w    io.Writer
	rows []string
}

// NewTable returns a table report writing to w.
func NewTable(w io.Writer) *Table { return &Table{w: w} }

// Add implements Report.
func (t *Table) Add(r *Result) error {
	vs := slices.Clone(r.Violations)
	slices.SortStableFunc(vs, func(a, b review.Violation) int {
		return engine.SeverityRank(b.Severity) - engine.SeverityRank(a.Severity)
	})
	for i, v := range vs {
		obj := ""
		if i == 0 {
			obj = r.Object.String()
			if r.Source != nil {
				obj += fmt.Sprintf(" (%s:%d)", r.Source.File, r.Source.Line)
			}
		}
		t.rows = append(t.rows, strings.Join([]string{obj, v.Severity, v.Policy, string(v.Action), oneLine(v.Message)}, "\t"))
	}
	// Excepted findings are listed too, with the exception that excepts
	// them, so that a security review sees what is excepted.
	for i, x := range r.Excepted {
		obj := ""
		if i == 0 && len(vs) == 0 {
			obj = r.Object.String()
		}
		msg := fmt.Sprintf("excepted by PolicyException %s/%s until %s: %s", x.Exception.Namespace, x.Exception.Name, x.Exception.ExpiresAt, x.Message)
		t.rows = append(t.rows, strings.Join([]string{obj, x.Severity, x.Policy, "excepted", oneLine(msg)}, "\t"))
	}
	return nil
}

// Close implements Report.
func (t *Table) Close(s *Summary) error {
	if len(t.rows) > 0 {
		tw := tabwriter.NewWriter(t.w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "OBJECT\tSEVERITY\tPOLICY\tACTION\tMESSAGE")
		for _, r := range t.rows {
			fmt.Fprintln(tw, r)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(t.w)
	}
	return WriteSummary(t.w, s, "")
}

// WriteSummary prints the counts of a summary, each line after indent:
// objects, findings by severity, family, action and namespace, and the
// policies with the most findings.
func WriteSummary(w io.Writer, s *Summary, indent string) error {
	line := func(format string, args ...any) {
		fmt.Fprintf(w, indent+format+"\n", args...)
	}
	line("Audited %d objects: %d with findings, %d would be denied if created today.", s.Objects, s.WithFindings, s.Denied)
	var notes []string
	if s.Exempt > 0 {
		notes = append(notes, fmt.Sprintf("%d exempt", s.Exempt))
	}
	if n := sum(s.NotReviewed); n > 0 {
		notes = append(notes, fmt.Sprintf("%d not reviewed (%s)", n, counts(s.NotReviewed, ranked(s.NotReviewed), 0)))
	}
	if s.Errors > 0 {
		notes = append(notes, fmt.Sprintf("%d could not be reviewed", s.Errors))
	}
	if len(notes) > 0 {
		line("Also seen: %s.", strings.Join(notes, ", "))
	}
	for _, g := range s.Exceptions.groups() {
		line("%s:", g.Title)
		for _, n := range g.Notes {
			line("  %s", n)
		}
	}
	if s.Findings == 0 {
		line("No findings.")
		return nil
	}
	var sevs []string
	for _, sev := range Severities {
		if s.BySeverity[sev] > 0 {
			sevs = append(sevs, sev)
		}
	}
	line("Findings: %d (%s)", s.Findings, counts(s.BySeverity, sevs, 0))
	line("  by family:    %s", counts(s.ByFamily, ranked(s.ByFamily), 0))
	line("  by action:    %s", counts(s.ByAction, ranked(s.ByAction), 0))
	line("  by namespace: %s", counts(s.ByNamespace, ranked(s.ByNamespace), 10))
	line("  top policies: %s", counts(s.ByPolicy, ranked(s.ByPolicy), 5))
	return nil
}

// counts writes "a 3, b 1" for keys in order, at most limit of them (0:
// all) and "and N more".
func counts(m map[string]int, keys []string, limit int) string {
	var parts []string
	for i, k := range keys {
		if limit > 0 && i == limit {
			parts = append(parts, fmt.Sprintf("and %d more", len(keys)-limit))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// oneLine keeps a message on one table line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
