// Package bundlewatch reloads operator policy bundles in `serve`: when the
// files of a --bundle directory change (a ConfigMap update swaps them), the
// bundles are recompiled and the new engine replaces the old one atomically.
// A broken update keeps the last good engine, is logged with the file and
// line of the error, counted in a metric by reason and reported as an Event;
// readiness is not affected, since the last good policies keep being
// enforced. An update is broken when it does not compile (a syntax or type
// error, a built-in Tollgate withholds such as http.send, a violation rule
// that is not a partial set of findings) or when one of its policies fails
// to evaluate on the engine's canary corpus (engine.Smoke): either would
// otherwise fail reviews once swapped in.
package bundlewatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

// Metrics of bundle reloads.
type Metrics struct {
	Reloads *prometheus.CounterVec
	// Rejections counts rejected updates by reason: compile (the bundle
	// does not load or compile), canary (a policy fails on the canary
	// corpus) or other (the configuration names an unknown policy, a directory is gone).
	Rejections  *prometheus.CounterVec
	LastSuccess prometheus.Gauge
	Policies    prometheus.Gauge
}

// NewMetrics registers the reload metrics with reg; it panics when reg
// already holds them, a programming error.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		Reloads: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_bundle_reloads_total", Help: "Operator bundle reloads, by result (success or error).",
		}, []string{"result"}),
		Rejections: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_bundle_rejections_total", Help: "Operator bundle updates rejected while the previous bundle stays in use, by reason (compile, canary or other).",
		}, []string{"reason"}),
		LastSuccess: f.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_bundle_last_reload_success", Help: "1 when the last operator bundle reload compiled, 0 when it failed and the previous bundle is still in use.",
		}),
		Policies: f.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_policies", Help: "Policies in the engine in use.",
		}),
	}
	m.LastSuccess.Set(1)
	return m
}

// Watcher watches bundle directories and swaps the engine on a change.
type Watcher struct {
	Dirs    []string
	Build   func(context.Context) (*engine.Engine, error)
	Holder  *engine.Holder
	Log     logr.Logger
	Metrics *Metrics
	// Recorder and Object, when set, receive an Event per failed reload.
	Recorder record.EventRecorder
	Object   runtime.Object
	// Poll is how often contents are hashed as a fallback to file events
	// (ConfigMap volumes replace a symlink, which some filesystems do not
	// report); default 10s.
	Poll time.Duration

	hash string
}

// NeedLeaderElection: every replica serves, so every replica reloads.
func (w *Watcher) NeedLeaderElection() bool { return false }

// Start watches until ctx ends.
func (w *Watcher) Start(ctx context.Context) error {
	if w.Poll == 0 {
		w.Poll = 10 * time.Second
	}
	w.hash = Hash(w.Dirs)
	if w.Metrics != nil {
		w.Metrics.Policies.Set(float64(len(w.Holder.Load().Policies())))
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer func() {
		if err := fw.Close(); err != nil {
			w.Log.Error(err, "closing the bundle directory watch")
		}
	}()
	for _, d := range w.Dirs {
		if err := fw.Add(d); err != nil {
			w.Log.Error(err, "watching bundle directory; polling only", "dir", d)
		}
	}
	tick := time.NewTicker(w.Poll)
	defer tick.Stop()
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-fw.Events:
			// Files of one update arrive as several events: settle first.
			debounce = time.After(500 * time.Millisecond)
		case err := <-fw.Errors:
			w.Log.Error(err, "bundle file watch")
		case <-debounce:
			w.Check(ctx)
		case <-tick.C:
			w.Check(ctx)
		}
	}
}

// Check reloads when the bundle contents changed since the last check.
func (w *Watcher) Check(ctx context.Context) {
	h := Hash(w.Dirs)
	if h == w.hash {
		return
	}
	w.hash = h
	e, err := w.Build(ctx)
	if err != nil {
		reason := Reason(err)
		w.Log.Error(err, "operator bundle update rejected; keeping the previous policies", "reason", reason)
		if w.Metrics != nil {
			w.Metrics.Reloads.WithLabelValues("error").Inc()
			w.Metrics.Rejections.WithLabelValues(reason).Inc()
			w.Metrics.LastSuccess.Set(0)
		}
		if w.Recorder != nil && w.Object != nil {
			w.Recorder.Event(w.Object, corev1.EventTypeWarning, "BundleRejected", truncate(fmt.Sprintf("%s (%s); keeping the previous policies", err, reason), 1000))
		}
		return
	}
	w.Holder.Store(e)
	w.Log.Info("operator bundle reloaded", "policies", len(e.Policies()))
	if w.Metrics != nil {
		w.Metrics.Reloads.WithLabelValues("success").Inc()
		w.Metrics.LastSuccess.Set(1)
		w.Metrics.Policies.Set(float64(len(e.Policies())))
	}
	if w.Recorder != nil && w.Object != nil {
		w.Recorder.Eventf(w.Object, corev1.EventTypeNormal, "BundleReloaded", "operator bundle reloaded: %d policies", len(e.Policies()))
	}
}

// Reason classifies why an update was rejected, for the rejections metric.
func Reason(err error) string {
	switch {
	case errors.Is(err, engine.ErrCanary):
		return "canary"
	case errors.Is(err, engine.ErrBundle):
		return "compile"
	}
	return "other"
}

// Hash fingerprints the Rego and data files of the directories (hidden
// entries, such as a ConfigMap volume's ..data copies, are skipped).
func Hash(dirs []string) string {
	h := sha256.New()
	for _, d := range dirs {
		var files []string
		_ = filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if p != d && strings.HasPrefix(de.Name(), ".") {
				if de.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !de.IsDir() && (strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, ".json")) {
				files = append(files, p)
			}
			return nil
		})
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			h.Write([]byte(f))
			h.Write([]byte{0})
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
