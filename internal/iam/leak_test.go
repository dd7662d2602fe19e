package iam

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tollgate-dev/tollgate/internal/iam/iamtest"
)

// blackHole accepts connections and never answers, as a firewalled or hung
// endpoint does; it counts the connections still open.
type blackHole struct {
	l    net.Listener
	open atomic.Int64
}

func newBlackHole(t *testing.T) *blackHole {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackHole{l: l}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b.open.Add(1)
			go b.hold(c)
		}
	}()
	return b
}

// hold reads from a connection until the client gives up and closes it.
func (b *blackHole) hold(c net.Conn) {
	for {
		if _, err := c.Read(make([]byte, 1<<16)); err != nil {
			break
		}
	}
	c.Close()
	b.open.Add(-1)
}

// TestFaultsLeakNothing: with IAM down, hung, slow or throttling, a storm
// of admission lookups each answers unknown within the admission bound, and
// once the background fetches end (iam.waitTimeout) no goroutine is left
// and no more connections stay open than iam.maxConcurrentCalls.
func TestFaultsLeakNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (conns func() int64)
		// outlasts: every fetch takes longer than the admission bound,
		// so every lookup must answer at the bound, not at the fetch's end.
		outlasts bool
	}{
		{"down (connection refused)", func(t *testing.T) func() int64 {
			s := newServer(t)
			s.Close()
			return func() int64 { return 0 }
		}, false},
		{"hung (accepts, never answers)", func(t *testing.T) func() int64 {
			newServer(t) // roles and environment; the SDK is pointed elsewhere below
			b := newBlackHole(t)
			iamtest.SetEnv(t, "http://"+b.l.Addr().String(), true)
			return b.open.Load
		}, true},
		{"slow (answers after the fetch gave up)", func(t *testing.T) func() int64 {
			s := newServer(t)
			s.SetDelay(3 * time.Second)
			return s.OpenConns
		}, true},
		{"throttling", func(t *testing.T) func() int64 {
			s := newServer(t)
			for _, a := range []string{"GetRole", "ListAttachedRolePolicies", "ListRolePolicies"} {
				s.Throttle(a, 1<<20)
			}
			return s.OpenConns
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conns := tc.setup(t)
			c := testConfig()
			c.Timeout = metav1.Duration{Duration: 50 * time.Millisecond}
			c.WaitTimeout = metav1.Duration{Duration: 500 * time.Millisecond}
			c.ErrorTTL = metav1.Duration{} // every round fetches again
			f := newFetcher(t, c, Admission)
			ignore := []goleak.Option{
				goleak.IgnoreCurrent(),
				// Idle keep-alive connections of the SDK's client and the
				// test server's ends of them; the connection count below
				// bounds them.
				goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
				goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
				goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
				// The black hole's end of such a connection.
				goleak.IgnoreAnyFunction("github.com/tollgate-dev/tollgate/internal/iam.(*blackHole).hold"),
			}

			// Every lookup answers unknown, and where the fetch outlasts the
			// 50ms admission bound, says it answered at the bound: counted
			// from the answers rather than timed, so that a loaded machine
			// cannot fail it.
			var unknown, atBound atomic.Int64
			for round := range 3 {
				var wg sync.WaitGroup
				for i := range 40 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						role := fmt.Sprintf("arn:aws:iam::123456789012:role/agent-%d", (i+round)%8)
						if i%2 == 0 {
							role = vllmRole
						}
						r := f.Lookup(t.Context(), role)
						if r.Status == StatusUnknown {
							unknown.Add(1)
						}
						if strings.Contains(r.Reason, "did not answer within 50ms") {
							atBound.Add(1)
						}
					}()
				}
				wg.Wait()
			}
			if unknown.Load() != 120 {
				t.Errorf("%d of 120 lookups unknown, want all", unknown.Load())
			}
			if tc.outlasts && atBound.Load() != 120 {
				t.Errorf("%d of 120 lookups answered at the 50ms bound, want all: the others waited for the fetch", atBound.Load())
			}

			// Background fetches end within iam.waitTimeout of their start.
			// A loaded machine may run the last ones, and the closing of
			// their connections, late: a goroutine still there 5 s later
			// (ten times the bound) is a leak.
			time.Sleep(c.WaitTimeout.Duration)
			deadline := time.Now().Add(5 * time.Second)
			for {
				err := goleak.Find(ignore...)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("goroutines left 5s after the fetches ended: %v", err)
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			for conns() > int64(c.MaxConcurrentCalls) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if n := conns(); n > int64(c.MaxConcurrentCalls) {
				t.Errorf("%d connections open, want at most iam.maxConcurrentCalls=%d", n, c.MaxConcurrentCalls)
			}
			t.Logf("%d of 120 lookups at the bound; connections open afterwards %d", atBound.Load(), conns())
		})
	}
}
