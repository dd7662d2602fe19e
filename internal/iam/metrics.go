package iam

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the IAM cache and fetch metrics. A nil *Metrics records
// nothing (eval and tests).
type Metrics struct {
	// Hits counts lookups answered from the cache.
	Hits prometheus.Counter
	// Misses counts lookups that had to wait for a fetch.
	Misses prometheus.Counter
	// Errors counts failed role fetches by AWS error code (AccessDenied,
	// NoSuchEntity, Throttling once retries are spent, ...).
	Errors *prometheus.CounterVec
	// Unknown counts lookups answered "unknown", by reason (no-credentials,
	// timeout, error, not-found).
	Unknown *prometheus.CounterVec
	// Latency is the time one role fetch took, every call and retry
	// included.
	Latency prometheus.Histogram
	// Calls counts IAM API operations by name (the SDK's retries of an
	// operation are not counted again).
	Calls *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg; `serve`
// passes controller-runtime's registry, tests a fresh one. It panics when
// reg already holds them, a programming error.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		Hits: f.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_iam_cache_hits_total",
			Help: "IAM document lookups answered from the cache.",
		}),
		Misses: f.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_iam_cache_misses_total",
			Help: "IAM document lookups that waited for a fetch.",
		}),
		Errors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_iam_fetch_errors_total",
			Help: "Failed IAM role fetches, by AWS error code.",
		}, []string{"code"}),
		Unknown: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_iam_unknown_total",
			Help: "IAM lookups answered unknown, by reason.",
		}, []string{"reason"}),
		Latency: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "tollgate_iam_fetch_duration_seconds",
			Help:    "Time to fetch one role's IAM documents, retries included.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}),
		Calls: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_iam_api_calls_total",
			Help: "IAM API operations called, by operation (retries not counted).",
		}, []string{"operation"}),
	}
}

func (m *Metrics) hit() {
	if m != nil {
		m.Hits.Inc()
	}
}

func (m *Metrics) miss() {
	if m != nil {
		m.Misses.Inc()
	}
}

func (m *Metrics) fetched(d time.Duration, code string) {
	if m == nil {
		return
	}
	m.Latency.Observe(d.Seconds())
	if code != "" {
		m.Errors.WithLabelValues(code).Inc()
	}
}

func (m *Metrics) unknown(reason string) {
	if m != nil {
		m.Unknown.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) call(op string) {
	if m != nil {
		m.Calls.WithLabelValues(op).Inc()
	}
}
