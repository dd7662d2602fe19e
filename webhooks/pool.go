package webhooks

import (
	"context"
	"runtime"
	"sync"
)

// Reviews run on long-lived worker goroutines rather than on the HTTP
// server's goroutine of each request. Policy evaluation recurses deeply; a
// fresh goroutine starts with a small stack and grows it by copying, which
// took a tenth of the CPU under load, while a worker keeps the stack it has
// grown. The pool also bounds how many reviews run at once, so that a burst
// queues (within each request's timeout) instead of allocating for all of
// its requests together.
type pool struct {
	work chan func()
}

// poolSize leaves room for reviews that wait (an IAM lookup within its
// bound, a cluster-state read) while others evaluate.
func poolSize() int { return max(16, 8*runtime.GOMAXPROCS(0)) }

var (
	sharedOnce sync.Once
	shared     *pool
)

// reviews is the process's pool, shared by every webhook path.
func reviews() *pool {
	sharedOnce.Do(func() { shared = newPool(poolSize()) })
	return shared
}

func newPool(n int) *pool {
	p := &pool{work: make(chan func())}
	for range n {
		go func() {
			for f := range p.work {
				f()
			}
		}()
	}
	return p
}

// run runs f on a worker and waits for it. It gives up, without running f,
// when ctx ends before a worker is free.
func (p *pool) run(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case p.work <- func() { defer close(done); f() }:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}
