package bench

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/conformance/bench/baredecoder"
	"github.com/tollgate-dev/tollgate/webhooks"
)

// The harness runs its own servers as child processes (benchrun re-executed
// with a subcommand), so that their CPU time and memory are theirs alone.

// ServeBareDecoder serves the bare decoder on addr until ctx is done.
func ServeBareDecoder(ctx context.Context, addr, certDir string) error {
	l, err := baredecoder.Listen(addr, certDir)
	if err != nil {
		return err
	}
	return baredecoder.Serve(ctx, l, baredecoder.Handler(nil))
}

// ProfiledWebhook is Tollgate's /validate and /mutate handlers (package
// webhooks, with the review path serve builds) on a TLS server configured as
// serve's, over the static cluster state of StateFiles. `tollgate serve` has
// no profiling endpoint; this process gives the HTTPS layer's profiles with
// the same handler code.
type ProfiledWebhook struct {
	Root, ConfigPath   string
	Addr, CertDir      string
	CPUPath, AllocPath string
}

// Serve serves until ctx is done. A SIGUSR1 starts the profiles, which are
// written when it stops.
func (p *ProfiledWebhook) Serve(ctx context.Context) error {
	env, err := LoadEnv(p.Root, p.ConfigPath)
	if err != nil {
		return err
	}
	r, err := env.FullReviewer(ctx)
	if err != nil {
		return err
	}
	m := webhooks.NewMetrics(prometheus.NewRegistry())
	mux := http.NewServeMux()
	mux.Handle("/validate", webhooks.Handler(&webhooks.ValidatingHandler{Reviewer: r, Metrics: m}))
	mux.Handle("/mutate", webhooks.Handler(&webhooks.MutatingHandler{Reviewer: r, Metrics: m}))
	l, err := baredecoder.Listen(p.Addr, p.CertDir)
	if err != nil {
		return err
	}

	var mu sync.Mutex
	var w *Window
	var werr error
	start := make(chan os.Signal, 1)
	signal.Notify(start, syscall.SIGUSR1)
	defer signal.Stop(start)
	go func() {
		select {
		case <-start:
		case <-ctx.Done():
			return
		}
		mu.Lock()
		defer mu.Unlock()
		w, werr = StartWindow(p.CPUPath)
	}()
	serr := baredecoder.Serve(ctx, l, mux)
	mu.Lock()
	defer mu.Unlock()
	if w != nil {
		werr = errors.Join(werr, w.Stop(p.AllocPath))
	} else if werr == nil {
		werr = errors.New("stopped before profiling started (SIGUSR1)")
	}
	return errors.Join(serr, werr)
}
