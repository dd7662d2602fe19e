package app

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/webhooks"
)

// runManager adds readiness, API-server contact and graceful shutdown, and runs
// the manager until ctx ends (SIGTERM) and the shutdown delay has passed.
//
// Readiness needs the webhook server started, every informer synced and
// GPU usage aggregated, and fails at once on SIGTERM: the manager stops
// shutdownDelay later, then the webhook server finishes the requests in
// flight. Kubernetes removes the pod from the Service's endpoints while it
// still serves, so no request reaches a closed port.
func runManager(ctx context.Context, rc *rest.Config, mgr ctrl.Manager, informers *state.Informers, o serveOptions, log logr.Logger) error {
	// While the API server is unreachable admission decides from the
	// caches and tollgate_state_staleness_seconds says how old they may be.
	contact, err := state.NewContact(rc, 5*time.Second, crmetrics.Registry)
	if err != nil {
		return err
	}
	if err := mgr.Add(contact); err != nil {
		return err
	}
	var draining, synced atomic.Bool
	checks := []struct {
		name  string
		check healthz.Checker
	}{
		{"shutdown", func(*http.Request) error {
			if draining.Load() {
				return errors.New("shutting down")
			}
			return nil
		}},
		{"webhook", mgr.GetWebhookServer().StartedChecker()},
		{"gpu-usage", informers.Synced},
		{"caches", func(*http.Request) error {
			if !synced.Load() {
				return errors.New("informer caches have not synced")
			}
			return nil
		}},
	}
	for _, c := range checks {
		if err := mgr.AddReadyzCheck(c.name, c.check); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}

	mgrCtx, stopMgr := context.WithCancel(context.Background())
	defer stopMgr()
	go func() {
		select {
		case <-ctx.Done():
		case <-mgrCtx.Done():
			return
		}
		draining.Store(true)
		webhooks.Drain()
		log.Info("shutting down: not ready; serving until the delay ends, closing each connection after its answer", "delay", o.shutdownDelay)
		time.Sleep(o.shutdownDelay)
		stopMgr()
	}()
	go waitForCaches(mgrCtx, mgr, informers, o.cacheSyncWarning, &synced, log)
	return mgr.Start(mgrCtx)
}

// waitForCaches marks the caches synced once every informer has listed
// its kind. Until then Tollgate is not ready; past warnAfter (and every
// warnAfter again) it logs which kinds are still missing, so that a pod
// that never becomes ready says why (RBAC that forbids a list, say).
func waitForCaches(ctx context.Context, mgr ctrl.Manager, informers *state.Informers, warnAfter time.Duration, synced *atomic.Bool, log logr.Logger) {
	done := make(chan bool, 1)
	go func() { done <- mgr.GetCache().WaitForCacheSync(ctx) }()
	start := time.Now()
	tick := time.NewTicker(warnAfter)
	defer tick.Stop()
	for {
		select {
		case ok := <-done:
			if !ok {
				return
			}
			// Listing a large cluster leaves a heap of decoded pages
			// behind; hand it back to the OS now rather than keep it.
			debug.FreeOSMemory()
			synced.Store(true)
			log.Info("caches synced; ready", "after", time.Since(start).Round(time.Millisecond))
			return
		case <-tick.C:
			log.Error(errors.New("informer caches have not synced"), "not ready",
				"waited", time.Since(start).Round(time.Second), "unsynced", informers.Unsynced())
		}
	}
}
