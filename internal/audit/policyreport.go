package audit

import (
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

// ReportAPI is an API that report objects are written in: the Policy WG's
// wgpolicyk8s.io/v1alpha2 PolicyReport, or its successor openreports.io's
// Report. Both have one report per namespace and a cluster-wide kind for
// cluster-scoped objects, with the same results and summary.
type ReportAPI struct {
	Group, Version    string
	Kind, ClusterKind string
	// Plural and ClusterPlural are the resource names.
	Plural, ClusterPlural string
	// OpenReports reports carry their source and result limit at the top.
	OpenReports bool
}

// The report APIs Tollgate writes.
var (
	WGPolicy    = ReportAPI{Group: "wgpolicyk8s.io", Version: "v1alpha2", Kind: "PolicyReport", ClusterKind: "ClusterPolicyReport", Plural: "policyreports", ClusterPlural: "clusterpolicyreports"}
	OpenReports = ReportAPI{Group: "openreports.io", Version: "v1alpha1", Kind: "Report", ClusterKind: "ClusterReport", Plural: "reports", ClusterPlural: "clusterreports", OpenReports: true}
)

// GroupVersion returns the API's group and version.
func (a ReportAPI) GroupVersion() schema.GroupVersion {
	return schema.GroupVersion{Group: a.Group, Version: a.Version}
}

// Report objects Tollgate writes.
const (
	// ReportName names the report in each namespace and the cluster report.
	ReportName = "tollgate-audit"
	// ReportSource is the results' source.
	ReportSource = "tollgate"
	// LabelManagedBy marks reports Tollgate owns; stale ones are found by it.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// AnnotationOmitted counts the findings a report summarizes but does
	// not list, when the report is capped.
	AnnotationOmitted = "tollgate.dev/results-omitted"
)

// Bounds of one report object, so that it stays far below etcd's request
// size limit (1.5 MiB by default) however many findings a namespace has.
const (
	// DefaultMaxResults is the default cap on a report's listed results.
	DefaultMaxResults = 500
	// MaxReportBytes caps a report's JSON size; results are dropped, least
	// severe first, until it fits.
	MaxReportBytes = 512 << 10
	// maxMessageBytes caps one result's message.
	maxMessageBytes = 1024
)

// ReportResult is one result of a report (the same in both APIs).
type ReportResult struct {
	Source     string                   `json:"source"`
	Policy     string                   `json:"policy"`
	Category   string                   `json:"category,omitempty"`
	Severity   string                   `json:"severity,omitempty"`
	Timestamp  metav1.Timestamp         `json:"timestamp"`
	Result     string                   `json:"result"`
	Scored     bool                     `json:"scored"`
	Message    string                   `json:"message,omitempty"`
	Resources  []corev1.ObjectReference `json:"resources,omitempty"`
	Properties map[string]string        `json:"properties,omitempty"`

	rank int
}

// Key identifies a result across audits, for keeping its timestamp.
func (r *ReportResult) Key() string {
	var ref corev1.ObjectReference
	if len(r.Resources) > 0 {
		ref = r.Resources[0]
	}
	return r.Policy + "\x00" + ref.Kind + "\x00" + ref.Namespace + "\x00" + ref.Name + "\x00" + r.Properties["path"] + "\x00" + r.Message
}

// ReportSummary counts a report's results: fail for findings admission
// would deny, warn for warn and audit findings (not scored), pass for
// audited objects without findings.
type ReportSummary struct {
	Pass  int `json:"pass"`
	Fail  int `json:"fail"`
	Warn  int `json:"warn"`
	Error int `json:"error"`
	Skip  int `json:"skip"`
}

// ReportObject is one report.
type ReportObject struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ReportMeta `json:"metadata"`
	// Source and Configuration are OpenReports fields.
	Source        string          `json:"source,omitempty"`
	Configuration *ReportConfig   `json:"configuration,omitempty"`
	Summary       ReportSummary   `json:"summary"`
	Results       []*ReportResult `json:"results,omitempty"`
}

// ReportMeta is a report's metadata.
type ReportMeta struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	ResourceVersion string            `json:"resourceVersion,omitempty"`
}

// ReportConfig is OpenReports' configuration.limits.
type ReportConfig struct {
	Limits struct {
		MaxResults int `json:"maxResults"`
	} `json:"limits"`
}

// Unstructured returns the report as an object for the API server.
func (o *ReportObject) Unstructured() (*unstructured.Unstructured, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(b, &u.Object); err != nil {
		return nil, err
	}
	return u, nil
}

// ReportBuilder collects results into one report per namespace (and one
// for cluster-scoped objects), each listing at most MaxResults results,
// most severe first, with exact summary counts. It keeps at most twice
// that many results per namespace while building.
type ReportBuilder struct {
	api      ReportAPI
	policies map[string]*engine.Policy
	max      int
	now      metav1.Timestamp
	reports  map[string]*pending
}

type pending struct {
	summary ReportSummary
	results []*ReportResult
	omitted int
}

// NewReportBuilder returns an empty builder.
func NewReportBuilder(api ReportAPI, m Meta) *ReportBuilder {
	max := m.MaxResults
	if max <= 0 {
		max = DefaultMaxResults
	}
	return &ReportBuilder{api: api, policies: byID(m.Policies), max: max, now: timestamp(m.Now), reports: map[string]*pending{}}
}

func timestamp(t time.Time) metav1.Timestamp {
	return metav1.Timestamp{Seconds: t.Unix(), Nanos: int32(t.Nanosecond())}
}

// Add counts and keeps an object's findings.
func (b *ReportBuilder) Add(r *Result) {
	p := b.reports[r.Object.Namespace]
	if p == nil {
		p = &pending{}
		b.reports[r.Object.Namespace] = p
	}
	if len(r.Violations) == 0 {
		p.summary.Pass++
		return
	}
	ref := corev1.ObjectReference{APIVersion: r.Object.APIVersion, Kind: r.Object.Kind, Namespace: r.Object.Namespace, Name: r.Object.Name, UID: types.UID(r.UID)}
	for _, v := range r.Violations {
		res := &ReportResult{
			Source: ReportSource, Policy: v.Policy, Category: Family(v.Policy), Severity: v.Severity,
			Timestamp: b.now, Result: "warn", Message: truncate(v.Message, maxMessageBytes),
			Resources:  []corev1.ObjectReference{ref},
			Properties: map[string]string{"action": string(v.Action)},
			rank:       engine.SeverityRank(v.Severity),
		}
		if v.Action == engine.ActionDeny {
			res.Result, res.Scored = "fail", true
			p.summary.Fail++
		} else {
			p.summary.Warn++
		}
		if v.Path != "" {
			res.Properties["path"] = v.Path
		}
		if pol, ok := b.policies[v.Policy]; ok {
			res.Properties["title"] = pol.Title
		}
		if r.Source != nil {
			res.Properties["file"] = r.Source.File
			res.Properties["line"] = strconv.Itoa(r.Line(v.Path))
		}
		p.results = append(p.results, res)
	}
	if len(p.results) >= 2*b.max {
		p.trim(b.max)
	}
}

// trim keeps the max most severe results.
func (p *pending) trim(max int) {
	slices.SortStableFunc(p.results, compareResults)
	if len(p.results) > max {
		p.omitted += len(p.results) - max
		clear(p.results[max:])
		p.results = p.results[:max]
	}
}

// compareResults orders results most severe first, fail before warn, then
// by object and policy, so that reports are stable from one audit to the
// next.
func compareResults(a, b *ReportResult) int {
	return cmp.Or(
		cmp.Compare(b.rank, a.rank),
		cmp.Compare(a.Result, b.Result),
		cmp.Compare(a.Resources[0].Kind, b.Resources[0].Kind),
		cmp.Compare(a.Resources[0].Name, b.Resources[0].Name),
		cmp.Compare(a.Policy, b.Policy),
		cmp.Compare(a.Properties["path"], b.Properties["path"]),
		cmp.Compare(a.Message, b.Message),
	)
}

// Objects returns the reports, the cluster report first and then by
// namespace.
func (b *ReportBuilder) Objects() []*ReportObject {
	var out []*ReportObject
	for _, ns := range slices.Sorted(maps.Keys(b.reports)) {
		p := b.reports[ns]
		p.trim(b.max)
		o := &ReportObject{
			APIVersion: b.api.GroupVersion().String(), Kind: b.api.Kind,
			Metadata: ReportMeta{Name: ReportName, Namespace: ns, Labels: map[string]string{LabelManagedBy: ReportSource}},
			Summary:  p.summary, Results: p.results,
		}
		if ns == "" {
			o.Kind = b.api.ClusterKind
		}
		if b.api.OpenReports {
			o.Source = ReportSource
			o.Configuration = &ReportConfig{}
			o.Configuration.Limits.MaxResults = b.max
		}
		fit(o, MaxReportBytes)
		if n := p.omitted + (len(p.results) - len(o.Results)); n > 0 {
			o.Metadata.Annotations = map[string]string{AnnotationOmitted: strconv.Itoa(n)}
		}
		out = append(out, o)
	}
	return out
}

// fit drops the least severe results until the report's JSON is at most
// limit bytes.
func fit(o *ReportObject, limit int) {
	for len(o.Results) > 0 {
		b, err := json.Marshal(o)
		if err != nil || len(b) <= limit {
			return
		}
		// Drop in proportion to the excess, at least one result.
		drop := max(1, len(o.Results)*(len(b)-limit)/len(b)+1)
		o.Results = o.Results[:max(0, len(o.Results)-drop)]
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ReportWriter writes the reports as YAML documents when the audit ends,
// ready for kubectl apply.
type ReportWriter struct {
	w io.Writer
	b *ReportBuilder
}

// NewReportWriter returns a report writer of an API.
func NewReportWriter(w io.Writer, api ReportAPI, m Meta) *ReportWriter {
	return &ReportWriter{w: w, b: NewReportBuilder(api, m)}
}

// Add implements Report.
func (rw *ReportWriter) Add(r *Result) error {
	rw.b.Add(r)
	return nil
}

// Close implements Report.
func (rw *ReportWriter) Close(*Summary) error {
	for i, o := range rw.b.Objects() {
		y, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(rw.w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := rw.w.Write(y); err != nil {
			return err
		}
	}
	return nil
}

// ReportSize returns the size of a report as the API server stores it
// (JSON), for metrics and tests.
func ReportSize(o *ReportObject) int {
	// Marshalling these types cannot fail.
	b, _ := json.Marshal(o)
	return len(b)
}
