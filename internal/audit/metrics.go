package audit

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

// Metrics are the background audit's metrics, registered with
// controller-runtime's registry in serve. Gauges describe the last
// completed audit.
type Metrics struct {
	// Violations counts findings by policy and severity.
	Violations *prometheus.GaugeVec
	// Objects counts audited objects by kind.
	Objects *prometheus.GaugeVec
	// Duration is the time one audit takes, listing and reports included.
	Duration prometheus.Histogram
	// Runs counts audits by result (success, error).
	Runs *prometheus.CounterVec
	// LastSuccess is when the last audit completed.
	LastSuccess prometheus.Gauge
	// Reports counts the report objects written, and ReportBytes is the
	// size of the largest (etcd refuses objects past its request limit,
	// 1.5 MiB by default).
	Reports     prometheus.Gauge
	ReportBytes prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg; it panics
// when reg already holds them, a programming error.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		Violations: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tollgate_audit_violations",
			Help: "Findings of the last background audit, by policy and severity.",
		}, []string{"policy", "severity"}),
		Objects: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tollgate_audit_objects",
			Help: "Objects reviewed by the last background audit, by kind.",
		}, []string{"kind"}),
		Duration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "tollgate_audit_duration_seconds",
			Help:    "Time one background audit takes, listing and writing reports included.",
			Buckets: []float64{1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}),
		Runs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_audit_runs_total",
			Help: "Background audits, by result (success, error).",
		}, []string{"result"}),
		LastSuccess: f.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_audit_last_success_timestamp_seconds",
			Help: "When the last background audit completed, as a Unix time.",
		}),
		Reports: f.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_audit_reports",
			Help: "Report objects the last background audit wrote (one per namespace with audited objects, and one for the cluster).",
		}),
		ReportBytes: f.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_audit_report_max_bytes",
			Help: "Size of the largest report object of the last background audit, in bytes of JSON.",
		}),
	}
}

// observe records a completed audit.
func (m *Metrics) observe(s *Summary, policies []*engine.Policy, took time.Duration, end time.Time, reports, maxBytes int) {
	sev := map[string]string{}
	for _, p := range policies {
		sev[p.ID] = p.Severity
	}
	m.Violations.Reset()
	for id, n := range s.ByPolicy {
		m.Violations.WithLabelValues(id, sev[id]).Set(float64(n))
	}
	m.Objects.Reset()
	for k, n := range s.ByKind {
		m.Objects.WithLabelValues(k).Set(float64(n))
	}
	m.Duration.Observe(took.Seconds())
	m.Runs.WithLabelValues("success").Inc()
	m.LastSuccess.Set(float64(end.Unix()))
	m.Reports.Set(float64(reports))
	m.ReportBytes.Set(float64(maxBytes))
}
