// Package audit reviews what already exists — a live cluster, listed in
// chunks, or manifests — through the same review path admission uses, and
// writes reports for security teams: a table, JSON (the eval schema plus a
// summary), SARIF 2.1.0, a self-contained HTML page, and PolicyReport or
// OpenReports objects. Pods are reviewed as if created today, mutators
// included, so that what the mutators would add to a running pod shows up
// as drift findings (the drift policy family, rego/drift). `serve` runs
// the same audit in the background and keeps PolicyReports up to date.
package audit

import (
	"cmp"
	"maps"
	"slices"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// Result is the audit of one object: the verdict admission would give it
// if it were created today (drift findings among the violations), and
// where it came from.
type Result struct {
	review.Result
	// Source is the file and line of the manifest, for audits of files.
	Source *Location `json:"source,omitempty"`
	// UID is the object's uid, for objects read from a cluster.
	UID string `json:"-"`
	// locate finds the line of a field path in the manifest.
	locate func(path string) int
}

// Location is where a manifest document starts.
type Location struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// Line returns the line of a finding's field path in the manifest, or the
// line where its document starts; 0 for objects not read from files.
func (r *Result) Line(path string) int {
	if r.Source == nil {
		return 0
	}
	if r.locate != nil && path != "" {
		if l := r.locate(path); l > 0 {
			return l
		}
	}
	return r.Source.Line
}

// Report receives the results of an audit as it produces them, in order,
// and writes what is left when it is over. Formats that can stream (JSON,
// SARIF) write as they go; the others keep only what they print.
type Report interface {
	Add(r *Result) error
	Close(s *Summary) error
}

// Reports sends every result to each report in turn.
type Reports []Report

// Add implements Report.
func (rs Reports) Add(r *Result) error {
	for _, x := range rs {
		if err := x.Add(r); err != nil {
			return err
		}
	}
	return nil
}

// Close implements Report.
func (rs Reports) Close(s *Summary) error {
	for _, x := range rs {
		if err := x.Close(s); err != nil {
			return err
		}
	}
	return nil
}

// ClusterScope is the namespace key of cluster-scoped objects in summaries.
const ClusterScope = "(cluster)"

// Summary counts what an audit found. Counts are exact, however many
// findings a report lists in detail.
type Summary struct {
	// Objects is how many objects were reviewed (exempt ones excluded).
	Objects int `json:"objects"`
	// WithFindings is how many of them have at least one finding.
	WithFindings int `json:"withFindings"`
	// Denied is how many admission would refuse if created today.
	Denied int `json:"denied"`
	// Findings counts every finding, drift included.
	Findings int `json:"findings"`
	// Exempt is how many objects the configuration exempts (by namespace).
	Exempt int `json:"exempt"`
	// NotReviewed counts objects of kinds Tollgate does not review (state
	// given in manifests), by kind.
	NotReviewed map[string]int `json:"notReviewed"`
	// Errors counts objects that could not be reviewed; ErrorMessages
	// holds the first of them.
	Errors        int      `json:"errors"`
	ErrorMessages []string `json:"errorMessages,omitempty"`
	// ByKind counts reviewed objects per kind.
	ByKind map[string]int `json:"byKind"`
	// Findings by policy family, severity, action, namespace (cluster-scoped
	// objects under "(cluster)") and policy id.
	ByFamily    map[string]int `json:"byFamily"`
	BySeverity  map[string]int `json:"bySeverity"`
	ByAction    map[string]int `json:"byAction"`
	ByNamespace map[string]int `json:"byNamespace"`
	ByPolicy    map[string]int `json:"byPolicy"`
	// Excepted counts findings a PolicyException excepted (not counted in
	// Findings), and ExceptedBy the findings per exception (namespace/name).
	Excepted   int            `json:"excepted,omitempty"`
	ExceptedBy map[string]int `json:"exceptedBy,omitempty"`
	// Exceptions lists the PolicyExceptions that expire soon, have
	// expired or excepted nothing (exceptions.go); nil when none does.
	Exceptions *ExceptionHealth `json:"exceptions,omitempty"`
}

// maxErrorMessages bounds Summary.ErrorMessages.
const maxErrorMessages = 20

// NewSummary returns an empty summary.
func NewSummary() *Summary {
	return &Summary{
		NotReviewed: map[string]int{}, ByKind: map[string]int{},
		ByFamily: map[string]int{}, BySeverity: map[string]int{}, ByAction: map[string]int{},
		ByNamespace: map[string]int{}, ByPolicy: map[string]int{},
	}
}

// Add counts one reviewed object.
func (s *Summary) Add(r *Result) {
	s.Objects++
	s.ByKind[r.Object.Kind]++
	if !r.Allowed {
		s.Denied++
	}
	if len(r.Violations) > 0 {
		s.WithFindings++
	}
	ns := r.Object.Namespace
	if ns == "" {
		ns = ClusterScope
	}
	for _, x := range r.Excepted {
		s.Excepted++
		if s.ExceptedBy == nil {
			s.ExceptedBy = map[string]int{}
		}
		s.ExceptedBy[x.Exception.Namespace+"/"+x.Exception.Name]++
	}
	for _, v := range r.Violations {
		s.Findings++
		s.ByFamily[Family(v.Policy)]++
		s.BySeverity[v.Severity]++
		s.ByAction[string(v.Action)]++
		s.ByNamespace[ns]++
		s.ByPolicy[v.Policy]++
	}
}

// AddError counts an object that could not be reviewed.
func (s *Summary) AddError(msg string) {
	s.Errors++
	if len(s.ErrorMessages) < maxErrorMessages {
		s.ErrorMessages = append(s.ErrorMessages, msg)
	}
}

// AtLeast counts the findings of severity sev or more severe.
func (s *Summary) AtLeast(sev string) int {
	n := 0
	for k, c := range s.BySeverity {
		if engine.SeverityRank(k) >= engine.SeverityRank(sev) {
			n += c
		}
	}
	return n
}

// Family is the family of a policy id: pss for pss.restricted.runAsNonRoot.
func Family(id string) string {
	for i := range len(id) {
		if id[i] == '.' {
			return id[:i]
		}
	}
	return id
}

// Severities lists the severities, most severe first.
var Severities = []string{"critical", "high", "medium", "low"}

// ranked returns a map's keys by count, highest first, then by name.
func ranked(m map[string]int) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b))
	})
	return keys
}
