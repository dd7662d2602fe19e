package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrTimeout is wrapped when state could not be read within its bound.
var ErrTimeout = errors.New("state not read in time")

// ServiceAccountOptions bound the live reads of LiveServiceAccounts.
type ServiceAccountOptions struct {
	// Timeout bounds one ServiceAccount lookup, cache and live read
	// together.
	Timeout time.Duration
	// QPS and Burst rate-limit the live reads across all lookups.
	QPS   float64
	Burst int
	// Observe, if set, is told how each lookup ended: cache, live,
	// not_found, timeout, rate_limited or error.
	Observe func(result string)
}

// LiveServiceAccounts wraps a Reader whose ServiceAccounts come from an
// informer cache: a ServiceAccount the cache does not hold yet (created a
// moment before its first pod) is read from the API server, at most QPS
// times a second, with concurrent lookups of one key sharing one read. A
// lookup never takes longer than Timeout: past it, it fails with an error
// wrapping ErrTimeout, and admission goes on without the ServiceAccount.
// Every other method is the wrapped Reader's.
type LiveServiceAccounts struct {
	Reader
	live    client.Reader
	opts    ServiceAccountOptions
	limiter *rate.Limiter
	reads   singleflight.Group
}

// NewLiveServiceAccounts returns cached with live reads on a cache miss.
func NewLiveServiceAccounts(cached Reader, live client.Reader, opts ServiceAccountOptions) *LiveServiceAccounts {
	if opts.Observe == nil {
		opts.Observe = func(string) {}
	}
	return &LiveServiceAccounts{Reader: cached, live: live, opts: opts, limiter: rate.NewLimiter(rate.Limit(opts.QPS), opts.Burst)}
}

// ServiceAccount implements Reader.
func (s *LiveServiceAccounts) ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	sa, err := s.Reader.ServiceAccount(ctx, namespace, name)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if sa != nil {
		s.opts.Observe("cache")
		return sa, nil
	}
	ch := s.reads.DoChan(namespace+"/"+name, func() (any, error) {
		// Detached from the first caller, so that its cancellation does
		// not fail the others waiting on this read; bounded all the same.
		rctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
		defer cancel()
		if err := s.limiter.Wait(rctx); err != nil {
			return nil, errRateLimited
		}
		var got corev1.ServiceAccount
		if err := s.live.Get(rctx, client.ObjectKey{Namespace: namespace, Name: name}, &got); err != nil {
			return nil, err
		}
		stripped, err := StripServiceAccount(&got)
		if err != nil {
			return nil, err
		}
		return stripped, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			if ignoreNotFound(r.Err) == nil {
				s.opts.Observe("not_found")
				return nil, nil
			}
			return nil, s.fail(ctx, r.Err)
		}
		s.opts.Observe("live")
		return r.Val.(*corev1.ServiceAccount), nil
	case <-ctx.Done():
		return nil, s.fail(ctx, ctx.Err())
	}
}

var errRateLimited = errors.New("live reads are rate limited")

// fail classifies a failed lookup for Observe. The caller names the
// ServiceAccount in its own message.
func (s *LiveServiceAccounts) fail(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, errRateLimited):
		s.opts.Observe("rate_limited")
		return fmt.Errorf("%w: %w within %s", ErrTimeout, err, s.opts.Timeout)
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		s.opts.Observe("timeout")
		return fmt.Errorf("%w (%s)", ErrTimeout, s.opts.Timeout)
	}
	s.opts.Observe("error")
	return err
}
