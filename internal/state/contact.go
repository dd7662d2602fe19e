package state

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// Contact watches the connection to the API server that the informer
// caches live on. While it is down, admission keeps deciding from the
// caches; tollgate_state_staleness_seconds says how old their view may be,
// so that an operator (or an alert) sees decisions made on stale state.
type Contact struct {
	client   rest.Interface
	interval time.Duration
	last     atomic.Int64 // unix nanoseconds of the last successful probe
}

// NewContact probes rc's API server every interval (readyz, bounded by the
// interval) and registers the staleness metrics with reg.
func NewContact(rc *rest.Config, interval time.Duration, reg prometheus.Registerer) (*Contact, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, err
	}
	c := &Contact{client: dc.RESTClient(), interval: interval}
	c.last.Store(time.Now().UnixNano())
	f := promauto.With(reg)
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tollgate_apiserver_last_contact_timestamp_seconds",
		Help: "When Tollgate last reached the API server that feeds its caches.",
	}, func() float64 { return float64(c.last.Load()) / 1e9 })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tollgate_state_staleness_seconds",
		Help: "Seconds since Tollgate last reached the API server: how old the cluster state admission decides on may be.",
	}, func() float64 { return c.Staleness().Seconds() })
	return c, nil
}

// Staleness is the time since the last successful probe.
func (c *Contact) Staleness() time.Duration {
	return time.Since(time.Unix(0, c.last.Load()))
}

// NeedLeaderElection: every replica has its own caches.
func (c *Contact) NeedLeaderElection() bool { return false }

// Start probes until ctx ends.
func (c *Contact) Start(ctx context.Context) error {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, c.interval)
		if err := c.client.Get().AbsPath("/readyz").Do(pctx).Error(); err == nil {
			c.last.Store(time.Now().UnixNano())
		}
		cancel()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
