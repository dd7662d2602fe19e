package webhooks

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolBoundsConcurrentReviews(t *testing.T) {
	p := newPool(2)
	release := make(chan struct{})
	var running, most atomic.Int32
	busy := func() {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		running.Add(-1)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- p.run(context.Background(), busy) }()
	}
	time.Sleep(100 * time.Millisecond)
	if got := running.Load(); got != 2 {
		t.Fatalf("%d reviews running on a pool of 2", got)
	}
	// A request whose timeout ends before a worker is free is not run.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ran := false
	if err := p.run(ctx, func() { ran = true }); err == nil || ran {
		t.Errorf("a queued review ran or did not fail: err %v, ran %v", err, ran)
	}
	close(release)
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if most.Load() != 2 {
		t.Errorf("at most %d ran at once, want 2", most.Load())
	}
}

// With every worker busy past the request's timeout, the handler answers
// 503, not a verdict, so that the API server applies the failurePolicy.
func TestNoWorkerFreeIsNotAVerdict(t *testing.T) {
	reviews() // create the shared pool, then stand in for it
	saved := shared
	defer func() { shared = saved }()
	shared = newPool(1)
	release := make(chan struct{})
	defer close(release)
	go func() { _ = shared.run(context.Background(), func() { <-release }) }()
	time.Sleep(50 * time.Millisecond)

	body := envelope("CREATE", "Pod", "", "enforced", []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}`))
	rec := httptest.NewRecorder()
	Handler(newValidator(t)).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate?timeout=100ms", bytes.NewReader(body)))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("HTTP %d, want 503; body %s", rec.Code, rec.Body)
	}
}
