package audit

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

// DefaultMaxRows is how many findings the HTML table lists by default.
const DefaultMaxRows = 10000

//go:embed report.html.tmpl
var htmlTemplate string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(n, total int) template.CSS {
		if total == 0 || n == 0 {
			return "width: 0"
		}
		// A bar of one finding among thousands stays visible.
		return template.CSS(fmt.Sprintf("width: %.1f%%", max(0.5, 100*float64(n)/float64(total))))
	},
	"lower": strings.ToLower,
}).Parse(htmlTemplate))

// HTML writes one self-contained page (inline CSS and script, no external
// resource) for a security lead: summary cards, bar charts of findings by
// severity, family and namespace, the policies with findings and their
// remediation from METADATA, and a sortable, filterable table of findings.
// The table lists at most MaxRows findings, most severe first; everything
// else on the page counts all of them.
type HTML struct {
	w       io.Writer
	m       Meta
	max     int
	rows    []*htmlRow
	omitted int
}

type htmlRow struct {
	Severity, Policy, Family, Action string
	Namespace, Kind, Name, Object    string
	Message, Path, Location          string
	Rank                             int
}

// NewHTML returns an HTML report writing to w.
func NewHTML(w io.Writer, m Meta) *HTML {
	max := m.MaxRows
	if max <= 0 {
		max = DefaultMaxRows
	}
	return &HTML{w: w, m: m, max: max}
}

// Add implements Report.
func (h *HTML) Add(r *Result) error {
	for _, v := range r.Violations {
		row := &htmlRow{
			Severity: v.Severity, Policy: v.Policy, Family: Family(v.Policy), Action: string(v.Action),
			Namespace: r.Object.Namespace, Kind: r.Object.Kind, Name: r.Object.Name, Object: r.Object.String(),
			Message: v.Message, Path: v.Path, Rank: engine.SeverityRank(v.Severity),
		}
		if row.Namespace == "" {
			row.Namespace = ClusterScope
		}
		if r.Source != nil {
			row.Location = fmt.Sprintf("%s:%d", r.Source.File, r.Line(v.Path))
		}
		h.rows = append(h.rows, row)
	}
	if len(h.rows) >= 2*h.max {
		h.trim()
	}
	return nil
}

func (h *HTML) trim() {
	slices.SortStableFunc(h.rows, func(a, b *htmlRow) int {
		if a.Rank != b.Rank {
			return b.Rank - a.Rank
		}
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		if c := strings.Compare(a.Object, b.Object); c != 0 {
			return c
		}
		return strings.Compare(a.Policy, b.Policy)
	})
	if len(h.rows) > h.max {
		h.omitted += len(h.rows) - h.max
		clear(h.rows[h.max:])
		h.rows = h.rows[:h.max]
	}
}

type bar struct {
	Label string
	Count int
	Class string
}

type policyCard struct {
	*engine.Policy
	Count int
}

type htmlData struct {
	Meta     Meta
	Summary  *Summary
	When     string
	Rows     []*htmlRow
	Omitted  int
	Severity []bar
	Family   []bar
	NS       []bar
	MaxFam   int
	MaxNS    int
	Policies []policyCard
	// Remediation by policy id, for the rows' detail lines.
	Remediation map[string]string
	Drift       int
	Families    []string
	Namespaces  []string
	Actions     []string
	// Exceptions are the PolicyExceptions to look at (exceptions.go).
	Exceptions []exceptionGroup
}

// Close implements Report.
func (h *HTML) Close(s *Summary) error {
	h.trim()
	d := htmlData{Meta: h.m, Summary: s, Rows: h.rows, Omitted: h.omitted, Remediation: map[string]string{}, Drift: s.ByFamily[DriftFamily], Exceptions: s.Exceptions.groups()}
	if !h.m.Now.IsZero() {
		d.When = h.m.Now.UTC().Format("2006-01-02 15:04 UTC")
	}
	for _, sev := range Severities {
		d.Severity = append(d.Severity, bar{Label: sev, Count: s.BySeverity[sev], Class: "sev-" + sev})
	}
	for _, f := range ranked(s.ByFamily) {
		d.Family = append(d.Family, bar{Label: f, Count: s.ByFamily[f]})
		d.MaxFam = max(d.MaxFam, s.ByFamily[f])
	}
	// The ten namespaces with the most findings, and the rest together.
	others := 0
	for i, ns := range ranked(s.ByNamespace) {
		if i >= 10 {
			others += s.ByNamespace[ns]
			continue
		}
		d.NS = append(d.NS, bar{Label: ns, Count: s.ByNamespace[ns]})
		d.MaxNS = max(d.MaxNS, s.ByNamespace[ns])
	}
	if others > 0 {
		d.NS = append(d.NS, bar{Label: fmt.Sprintf("%d other namespaces", len(s.ByNamespace)-10), Count: others, Class: "others"})
		d.MaxNS = max(d.MaxNS, others)
	}
	ps := byID(h.m.Policies)
	for _, id := range ranked(s.ByPolicy) {
		p, ok := ps[id]
		if !ok {
			p = &engine.Policy{ID: id, Family: Family(id), Title: id}
		}
		d.Policies = append(d.Policies, policyCard{Policy: p, Count: s.ByPolicy[id]})
		d.Remediation[id] = p.Remediation
	}
	slices.SortStableFunc(d.Policies, func(a, b policyCard) int {
		if ra, rb := engine.SeverityRank(a.Severity), engine.SeverityRank(b.Severity); ra != rb {
			return rb - ra
		}
		return b.Count - a.Count
	})
	d.Families = slices.Sorted(maps.Keys(s.ByFamily))
	d.Namespaces = slices.Sorted(maps.Keys(s.ByNamespace))
	d.Actions = slices.Sorted(maps.Keys(s.ByAction))
	return reportTemplate.Execute(h.w, d)
}
