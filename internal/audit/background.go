package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Background is `serve`'s periodic audit: a manager runnable that only the
// leader runs. Each round lists the cluster in chunks, reviews every object
// with admission's reviewer, and brings the reports up to date: one per
// namespace with audited objects and one for cluster-scoped objects, each
// bounded (ReportBuilder), updated in place only when it changed, and the
// reports of namespaces that no longer have audited objects deleted.
type Background struct {
	Interval time.Duration
	Runner   *Runner
	// Cluster lists the objects; its kinds are discovered again each round
	// (a CRD installed since the last one is audited).
	Cluster   *Cluster
	Discovery discovery.DiscoveryInterface
	// Client writes the reports. It should read from the API server, not a
	// cache: reports are read once a round.
	Client client.Client
	API    ReportAPI
	// MaxResults caps each report's listed results.
	MaxResults int
	Version    string
	Metrics    *Metrics
	Log        logr.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	noReports bool
}

var (
	_ manager.Runnable               = (*Background)(nil)
	_ manager.LeaderElectionRunnable = (*Background)(nil)
)

// NeedLeaderElection implements manager.LeaderElectionRunnable: one
// replica audits.
func (b *Background) NeedLeaderElection() bool { return true }

func (b *Background) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Start implements manager.Runnable: an audit now, then one Interval after
// each audit ends, until ctx is done. A failed audit is logged and counted;
// the next one runs on time.
func (b *Background) Start(ctx context.Context) error {
	b.Log.Info("background audit", "interval", b.Interval.String(), "reports", b.API.GroupVersion().String())
	for {
		if err := b.RunOnce(ctx); err != nil && ctx.Err() == nil {
			b.Log.Error(err, "background audit failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(b.Interval):
		}
	}
}

// builderReport feeds a ReportBuilder from the runner.
type builderReport struct{ b *ReportBuilder }

func (r builderReport) Add(res *Result) error { r.b.Add(res); return nil }
func (r builderReport) Close(*Summary) error  { return nil }

// RunOnce audits the cluster once and writes the reports.
func (b *Background) RunOnce(ctx context.Context) error {
	kinds, err := DiscoverKinds(b.Discovery)
	if err != nil {
		b.failed()
		return err
	}
	b.Cluster.Kinds = kinds
	return b.round(ctx, b.Cluster)
}

func (b *Background) failed() {
	if b.Metrics != nil {
		b.Metrics.Runs.WithLabelValues("error").Inc()
	}
}

// round audits src and writes the reports.
func (b *Background) round(ctx context.Context, src Source) error {
	start := b.now()
	fail := func(err error) error {
		b.failed()
		return err
	}
	policies := b.Runner.Reviewer.Engine().Policies()
	builder := NewReportBuilder(b.API, Meta{Policies: policies, Now: start, MaxResults: b.MaxResults, Version: b.Version})
	sum, err := b.Runner.Run(ctx, src, builderReport{builder})
	if err != nil {
		return fail(fmt.Errorf("auditing: %w", err))
	}
	reports := builder.Objects()
	largest := 0
	for _, o := range reports {
		largest = max(largest, ReportSize(o))
	}
	if err := b.sync(ctx, reports); err != nil {
		return fail(fmt.Errorf("writing reports: %w", err))
	}
	end := b.now()
	if b.Metrics != nil {
		b.Metrics.observe(sum, policies, end.Sub(start), end, len(reports), largest)
	}
	b.Log.Info("background audit done", "objects", sum.Objects, "findings", sum.Findings, "denied", sum.Denied,
		"errors", sum.Errors, "reports", len(reports), "largestReportBytes", largest, "took", end.Sub(start).Round(time.Millisecond))
	for _, msg := range sum.ErrorMessages {
		b.Log.Info("object not reviewed", "error", msg)
	}
	return nil
}

// sync creates or updates every report and deletes Tollgate's reports
// that this round did not write. Without the report CRDs it writes
// nothing and says so once.
func (b *Background) sync(ctx context.Context, reports []*ReportObject) error {
	written := map[string]bool{}
	for _, o := range reports {
		if err := b.write(ctx, o); err != nil {
			if meta.IsNoMatchError(err) {
				if !b.noReports {
					b.Log.Info("report CRDs are not installed; findings are in the metrics only", "kind", b.API.GroupVersion().WithKind(o.Kind).String())
					b.noReports = true
				}
				return nil
			}
			return fmt.Errorf("%s %s/%s: %w", o.Kind, o.Metadata.Namespace, o.Metadata.Name, err)
		}
		written[o.Kind+"/"+o.Metadata.Namespace] = true
	}
	b.noReports = false
	for _, kind := range []string{b.API.Kind, b.API.ClusterKind} {
		if err := b.deleteStale(ctx, kind, written); err != nil && !meta.IsNoMatchError(err) {
			return err
		}
	}
	return nil
}

// write creates a report or updates it in place when its content changed.
// Findings that were already reported keep their first timestamp, so
// that an unchanged namespace costs no write.
func (b *Background) write(ctx context.Context, o *ReportObject) error {
	gvk := b.API.GroupVersion().WithKind(o.Kind)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(gvk)
		err := b.Client.Get(ctx, client.ObjectKey{Namespace: o.Metadata.Namespace, Name: o.Metadata.Name}, cur)
		if apierrors.IsNotFound(err) {
			u, err := o.Unstructured()
			if err != nil {
				return err
			}
			return b.Client.Create(ctx, u)
		}
		if err != nil {
			return err
		}
		var old ReportObject
		raw, err := json.Marshal(cur.Object)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &old); err != nil {
			return fmt.Errorf("reading the current report: %w", err)
		}
		since := map[string]*ReportResult{}
		for _, r := range old.Results {
			since[r.Key()] = r
		}
		for _, r := range o.Results {
			if prev, ok := since[r.Key()]; ok {
				r.Timestamp = prev.Timestamp
			}
		}
		old.Metadata.ResourceVersion = ""
		if same(&old, o) {
			return nil
		}
		o.Metadata.ResourceVersion = cur.GetResourceVersion()
		defer func() { o.Metadata.ResourceVersion = "" }()
		u, err := o.Unstructured()
		if err != nil {
			return err
		}
		return b.Client.Update(ctx, u)
	})
}

// same compares two reports as they are stored.
func same(a, b *ReportObject) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// deleteStale deletes Tollgate's reports of a kind that this round did not
// write, listing them in chunks.
func (b *Background) deleteStale(ctx context.Context, kind string, written map[string]bool) error {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(b.API.GroupVersion().WithKind(kind + "List"))
	opts := []client.ListOption{client.MatchingLabels{LabelManagedBy: ReportSource}, client.Limit(defaultChunkSize)}
	for {
		if err := b.Client.List(ctx, list, opts...); err != nil {
			return err
		}
		for i := range list.Items {
			u := &list.Items[i]
			if u.GetName() != ReportName || written[kind+"/"+u.GetNamespace()] {
				continue
			}
			if err := b.Client.Delete(ctx, u); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting %s %s/%s: %w", kind, u.GetNamespace(), u.GetName(), err)
			}
			b.Log.V(1).Info("deleted a stale report", "kind", kind, "namespace", u.GetNamespace())
		}
		cont := list.GetContinue()
		if cont == "" {
			return nil
		}
		opts = []client.ListOption{client.MatchingLabels{LabelManagedBy: ReportSource}, client.Limit(defaultChunkSize), client.Continue(cont)}
	}
}
