package webhooks

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Metrics are the admission metrics, registered with controller-runtime's
// registry so that they are served on the manager's metrics endpoint.
type Metrics struct {
	// Duration is the time from request decoded to response built, per
	// webhook; buckets reach the API server's 10 s maximum timeout.
	Duration *prometheus.HistogramVec
	// Decisions counts findings per policy and resolved action.
	Decisions *prometheus.CounterVec
	// Requests counts admission requests per webhook and outcome
	// (allowed, denied, mutated, bad_request, error; see outcome).
	Requests *prometheus.CounterVec
	// MutationsReverted counts patches the /mutate webhook dropped because
	// the mutated pod would be denied by a policy the submitted pod was
	// not, per policy: a mutator bug or a policy at odds with a mutator.
	MutationsReverted *prometheus.CounterVec
	// MutationsSkipped counts pods admitted unmutated because the state
	// the mutators read (a ServiceAccount, NodePools, Pod Identity
	// associations) could not be read in time.
	MutationsSkipped prometheus.Counter
	// ServiceAccountLookups counts admission's ServiceAccount lookups by
	// result: cache, live (a cache miss read from the API server),
	// not_found, timeout, rate_limited, error.
	ServiceAccountLookups *prometheus.CounterVec
	// ExceptionsApplied counts findings a PolicyException excepted at
	// admission, per policy.
	ExceptionsApplied *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg;
// `serve` passes controller-runtime's registry (crmetrics.Registry), tests
// a fresh one. It panics when reg already holds them, a programming error.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		Duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tollgate_admission_duration_seconds",
			Help:    "Time Tollgate spent on an admission request, by webhook.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"webhook"}),
		Decisions: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_policy_decisions_total",
			Help: "Policy findings at admission, by policy and enforcement action.",
		}, []string{"policy", "action"}),
		Requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_admission_requests_total",
			Help: "Admission requests, by webhook and outcome.",
		}, []string{"webhook", "outcome"}),
		MutationsReverted: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_mutations_reverted_total",
			Help: "Pod mutations dropped because the mutated pod would be denied by a policy the submitted pod was not, by policy.",
		}, []string{"policy"}),
		MutationsSkipped: f.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_mutations_skipped_total",
			Help: "Pods admitted unmutated because the cluster state the mutators read was not available in time.",
		}),
		ServiceAccountLookups: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_serviceaccount_lookups_total",
			Help: "ServiceAccount lookups at admission, by result (cache, live, not_found, timeout, rate_limited, error).",
		}, []string{"result"}),
		ExceptionsApplied: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_exceptions_applied_total",
			Help: "Findings a PolicyException excepted at admission, by policy.",
		}, []string{"policy"}),
	}
}

// observe counts one answered request of a webhook and its duration.
func (m *Metrics) observe(webhook string, start time.Time, resp admission.Response) {
	m.observeAs(webhook, start, outcome(resp))
}

// observeAs counts a request with the given outcome: /mutate admits on a
// failure, and counts it as the failure.
func (m *Metrics) observeAs(webhook string, start time.Time, outcome string) {
	m.Duration.WithLabelValues(webhook).Observe(time.Since(start).Seconds())
	m.Requests.WithLabelValues(webhook, outcome).Inc()
}

// outcome is a response's label in tollgate_admission_requests_total.
func outcome(r admission.Response) string {
	switch {
	case r.Result != nil && r.Result.Code >= 500:
		return "error"
	case r.Result != nil && r.Result.Code == http.StatusBadRequest:
		return "bad_request"
	case !r.Allowed:
		return "denied"
	case len(r.Patches) > 0:
		return "mutated"
	}
	return "allowed"
}

// ObserveServiceAccountLookup counts one ServiceAccount lookup; it is the
// Observe hook of state.LiveServiceAccounts.
func (m *Metrics) ObserveServiceAccountLookup(result string) {
	m.ServiceAccountLookups.WithLabelValues(result).Inc()
}
