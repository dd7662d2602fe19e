package state

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// liveReader answers Get for ServiceAccounts, optionally after block is
// closed, and counts the calls.
type liveReader struct {
	client.Reader
	block chan struct{}
	calls atomic.Int32
	sa    *corev1.ServiceAccount
	err   error
}

func (l *liveReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	l.calls.Add(1)
	if l.block != nil {
		select {
		case <-l.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if l.err != nil {
		return l.err
	}
	if l.sa == nil {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, key.Name)
	}
	l.sa.DeepCopyInto(obj.(*corev1.ServiceAccount))
	return nil
}

type recorder struct {
	mu      sync.Mutex
	results []string
}

func (r *recorder) observe(s string) { r.mu.Lock(); r.results = append(r.results, s); r.mu.Unlock() }

func (r *recorder) got() []string { r.mu.Lock(); defer r.mu.Unlock(); return slices.Clone(r.results) }

func sa(name string, ann map[string]string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: name, Annotations: ann}}
}

func cachedWith(sas ...*corev1.ServiceAccount) *Static {
	s := NewStatic()
	for _, a := range sas {
		s.serviceAccounts[[2]string{a.Namespace, a.Name}] = a
	}
	return s
}

func TestLiveServiceAccounts(t *testing.T) {
	ctx := context.Background()
	full := sa("new", map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/r", "kubectl.kubernetes.io/last-applied-configuration": "{...}"})
	for _, tc := range []struct {
		name    string
		cached  []*corev1.ServiceAccount
		live    *liveReader
		lookup  string
		want    map[string]string // annotations of the answer; nil for none
		result  string
		calls   int32
		errText string
	}{
		{"cache hit", []*corev1.ServiceAccount{sa("vllm", map[string]string{"a": "b"})}, &liveReader{}, "vllm", map[string]string{"a": "b"}, "cache", 0, ""},
		{"miss read live and stripped", nil, &liveReader{sa: full}, "new", map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/r"}, "live", 1, ""},
		{"miss not found", nil, &liveReader{}, "gone", nil, "not_found", 1, ""},
		{"miss error", nil, &liveReader{err: errors.New("connection refused")}, "x", nil, "error", 1, "connection refused"},
		{"miss timeout", nil, &liveReader{block: make(chan struct{})}, "slow", nil, "timeout", 1, "state not read in time (50ms)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			s := NewLiveServiceAccounts(cachedWith(tc.cached...), tc.live, ServiceAccountOptions{Timeout: 50 * time.Millisecond, QPS: 100, Burst: 10, Observe: rec.observe})
			got, err := s.ServiceAccount(ctx, "ai", tc.lookup)
			if tc.errText != "" {
				if err == nil || err.Error() != tc.errText {
					t.Fatalf("error %v, want %q", err, tc.errText)
				}
				if tc.result == "timeout" && !errors.Is(err, ErrTimeout) {
					t.Errorf("a timeout must wrap ErrTimeout: %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == nil && got != nil:
				t.Errorf("got %+v, want none", got)
			case tc.want != nil && (got == nil || len(got.Annotations) != len(tc.want)):
				t.Errorf("got %+v, want annotations %v", got, tc.want)
			}
			if r := rec.got(); !slices.Equal(r, []string{tc.result}) {
				t.Errorf("observed %v, want [%s]", r, tc.result)
			}
			if c := tc.live.calls.Load(); c != tc.calls {
				t.Errorf("%d live reads, want %d", c, tc.calls)
			}
			if tc.live.block != nil {
				close(tc.live.block)
			}
		})
	}
}

func TestLiveServiceAccountsShareOneRead(t *testing.T) {
	live := &liveReader{block: make(chan struct{}), sa: sa("new", nil)}
	rec := &recorder{}
	s := NewLiveServiceAccounts(cachedWith(), live, ServiceAccountOptions{Timeout: 5 * time.Second, QPS: 100, Burst: 10, Observe: rec.observe})
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			got, err := s.ServiceAccount(context.Background(), "ai", "new")
			if err == nil && got == nil {
				err = errors.New("no ServiceAccount")
			}
			errs <- err
		})
	}
	for live.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(live.block)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if c := live.calls.Load(); c != 1 {
		t.Errorf("%d live reads for 5 concurrent lookups of one key, want 1", c)
	}
}

func TestLiveServiceAccountsRateLimited(t *testing.T) {
	live := &liveReader{sa: sa("new", nil)}
	rec := &recorder{}
	// One read a minute: the second lookup cannot get a token in time.
	s := NewLiveServiceAccounts(cachedWith(), live, ServiceAccountOptions{Timeout: 50 * time.Millisecond, QPS: 1.0 / 60, Burst: 1, Observe: rec.observe})
	if _, err := s.ServiceAccount(context.Background(), "ai", "a"); err != nil {
		t.Fatal(err)
	}
	_, err := s.ServiceAccount(context.Background(), "ai", "b")
	if err == nil || !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "rate limited") {
		t.Errorf("error %v, want a rate-limited timeout", err)
	}
	if r := rec.got(); !slices.Equal(r, []string{"live", "rate_limited"}) {
		t.Errorf("observed %v", r)
	}
	if c := live.calls.Load(); c != 1 {
		t.Errorf("%d live reads, want 1", c)
	}
}

func TestLiveServiceAccountsPassesThrough(t *testing.T) {
	st := cachedWith()
	st.namespaces["ai"] = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ai"}}
	s := NewLiveServiceAccounts(st, &liveReader{}, ServiceAccountOptions{Timeout: time.Second, QPS: 1, Burst: 1})
	if ns, err := s.Namespace(context.Background(), "ai"); err != nil || ns == nil {
		t.Errorf("Namespace is the wrapped reader's: %v %v", ns, err)
	}
	var _ Reader = s
}
