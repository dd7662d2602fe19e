package app

import (
	"context"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/tollgate-dev/tollgate/internal/bundlewatch"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/gather"
	"github.com/tollgate-dev/tollgate/internal/iam"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
	"github.com/tollgate-dev/tollgate/webhooks"
)

// newServeInformers sets up the informer caches of the cluster state
// (state.Informers lists the kinds), with per-namespace GPU use aggregated
// from the pod informer by the configuration's GPU counter.
func newServeInformers(ctx context.Context, rc *rest.Config, cfg *config.Config) (*state.Informers, error) {
	counter, err := gather.Counter(cfg.Validators)
	if err != nil {
		return nil, err
	}
	return state.NewInformers(ctx, rc, counter)
}

// startState starts the informers, so that readiness waits for them, and
// returns the state reader admission uses: the caches, with ServiceAccounts
// missing from the cache (created a moment before their first pod) read
// live, rate limited and time bounded.
func startState(ctx context.Context, mgr ctrl.Manager, informers *state.Informers, cfg *config.Config, metrics *webhooks.Metrics) (state.Reader, error) {
	if err := informers.Start(ctx, mgr.GetCache()); err != nil {
		return nil, err
	}
	sac := cfg.Mutators.Credentials
	return state.NewLiveServiceAccounts(informers.Cached(mgr.GetCache()), mgr.GetAPIReader(), state.ServiceAccountOptions{
		Timeout: sac.ServiceAccountTimeout.Duration, QPS: sac.ServiceAccountQPS, Burst: sac.ServiceAccountBurst,
		Observe: metrics.ObserveServiceAccountLookup,
	}), nil
}

// newServeReviewer builds admission's reviewer: the API server's version
// (for the drain mutator) and the IAM fetcher in admission mode (cached,
// single-flight, bounded by iam.timeout; without AWS credentials no call is
// made and pods with a role get iam.unknown).
func newServeReviewer(ctx context.Context, rc *rest.Config, holder *engine.Holder, cfg *config.Config, st state.Reader, log logr.Logger) (*review.Reviewer, error) {
	serverVersion, err := wiring.ServerVersion(rc)
	if err != nil {
		return nil, err
	}
	fetcher, err := iam.New(ctx, cfg.IAM, iam.Admission, iam.WithMetrics(iam.NewMetrics(crmetrics.Registry)))
	if err != nil {
		return nil, usageError(fmt.Errorf("config: %w", err))
	}
	if reason := fetcher.Disabled(); reason != "" {
		log.Info("IAM checks answer iam.unknown", "reason", reason)
	} else {
		log.Info("IAM documents", "source", fetcher.String())
	}
	return wiring.NewReviewer(holder, cfg, st, wiring.Deps{ServerVersion: serverVersion, IAM: fetcher})
}

// watchBundles recompiles the operator bundles when their files change and
// swaps the engine; a broken update keeps the previous one.
func watchBundles(mgr ctrl.Manager, holder *engine.Holder, cfg *config.Config, o serveOptions, log logr.Logger) error {
	m := bundlewatch.NewMetrics(crmetrics.Registry)
	w := &bundlewatch.Watcher{
		Dirs:    o.policy.bundles,
		Holder:  holder,
		Log:     log.WithName("bundle"),
		Metrics: m,
		//nolint:staticcheck // the recorders Tollgate passes take core/v1 Events (record.EventRecorder); events/v1 is a change of its own
		Recorder: mgr.GetEventRecorderFor("tollgate"),
		Build: func(ctx context.Context) (*engine.Engine, error) {
			return wiring.NewEngine(ctx, cfg, o.policy.bundles)
		},
	}
	// Events about the bundle go to Tollgate's own pod, when it knows it.
	if name := os.Getenv("POD_NAME"); name != "" && o.releaseNamespace != "" {
		w.Object = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.releaseNamespace}}
	}
	return mgr.Add(w)
}
