package loadgen

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// server answers 200 with the body it got, or 500 for bodies that say
// "fail"; it delays each answer by delay.
func server(t *testing.T, delay time.Duration) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		var b strings.Builder
		buf := make([]byte, 512)
		for {
			k, err := r.Body.Read(buf)
			b.Write(buf[:k])
			if err != nil {
				break
			}
		}
		time.Sleep(delay)
		if b.String() == "fail" {
			http.Error(w, "failed", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(b.String()))
	}))
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	return s, &n
}

func client(t *testing.T, s *httptest.Server, http2 bool) *http.Client {
	t.Helper()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	c, err := NewClient(ca, http2)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOpenLoopSendsOnSchedule(t *testing.T) {
	s, n := server(t, 0)
	h := &HTTP{URL: s.URL, Bodies: [][]byte{[]byte("a"), []byte("b")}, Client: client(t, s, true),
		Check: func(b []byte) error {
			if string(b) != "a" && string(b) != "b" {
				return errors.New("unexpected body")
			}
			return nil
		}}
	res, err := h.Run(context.Background(), Options{Rate: 200, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 100 || res.OK != 100 || res.Errors != 0 || n.Load() != 100 {
		t.Fatalf("requests %d, ok %d, errors %d (%v), server saw %d; want 100 sent and answered", res.Requests, res.OK, res.Errors, res.ErrorKinds, n.Load())
	}
	if res.Proto != "HTTP/2.0" {
		t.Errorf("protocol %q, want HTTP/2.0", res.Proto)
	}
	// A lower bound only: pacing makes the run last about 495ms (the
	// last request is due then); a loaded machine makes it longer, never
	// shorter.
	if res.Elapsed < 450*time.Millisecond {
		t.Errorf("100 requests at 200/s took %s: they were not paced", res.Elapsed)
	}
	if !(res.P50 <= res.P95 && res.P95 <= res.P99 && res.P99 <= res.Max) || res.P50 <= 0 {
		t.Errorf("percentiles out of order: %+v", res)
	}
}

// A server that answers one request at a time, 10ms each, falls behind
// 200 requests/s: open-loop requests keep coming when due, and each one's
// latency counts its wait behind the others, so the last of 20, due at
// 95ms, is answered near 200ms.
func TestOpenLoopCountsQueueing(t *testing.T) {
	var mu sync.Mutex
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}))
	t.Cleanup(s.Close)
	h := &HTTP{URL: s.URL, Bodies: [][]byte{[]byte("x")}, Client: client(t, s, false)}
	res, err := h.Run(context.Background(), Options{Rate: 200, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 20 {
		t.Fatalf("ok %d, errors %v; want 20 answered", res.OK, res.ErrorKinds)
	}
	if res.Max < 80*time.Millisecond {
		t.Errorf("max latency %s: want the queueing (about 105ms) counted", res.Max)
	}
}

func TestOpenLoopInFlightLimit(t *testing.T) {
	s, _ := server(t, 20*time.Millisecond)
	h := &HTTP{URL: s.URL, Bodies: [][]byte{[]byte("x")}, Client: client(t, s, false)}
	res, err := h.Run(context.Background(), Options{Rate: 1000, Duration: 20 * time.Millisecond, MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.Errors == 0 || res.ErrorKinds["in-flight limit"] != res.Errors || res.OK+res.Errors != 20 {
		t.Fatalf("ok %d, errors %v: want requests beyond the in-flight limit counted as errors", res.OK, res.ErrorKinds)
	}
}

func TestClosedLoopAndErrors(t *testing.T) {
	s, _ := server(t, time.Millisecond)
	h := &HTTP{URL: s.URL, Bodies: [][]byte{[]byte("ok"), []byte("fail")}, Client: client(t, s, false)}
	var measured atomic.Bool
	res, err := h.Run(context.Background(), Options{Concurrency: 4, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond,
		BeforeMeasure: func() error { measured.Store(true); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if !measured.Load() {
		t.Error("BeforeMeasure was not called")
	}
	if res.Concurrency != 4 || res.Rate != 0 {
		t.Errorf("concurrency %d, rate %v: want a closed-loop run with 4 workers", res.Concurrency, res.Rate)
	}
	if res.OK == 0 || res.ErrorKinds["HTTP 500"] == 0 || res.OK+res.Errors != res.Requests {
		t.Fatalf("ok %d, errors %v, requests %d: want both bodies answered and the 500s counted", res.OK, res.ErrorKinds, res.Requests)
	}
	if res.Proto != "HTTP/1.1" {
		t.Errorf("protocol %q, want HTTP/1.1", res.Proto)
	}
}

func TestRunOpStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := RunOp(ctx, Options{Rate: 10, Duration: time.Minute}, func(context.Context, int) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's", err)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 50, 95: 95, 99: 99, 100: 100, 0.1: 1} {
		if got := Percentile(ds, p); got != want {
			t.Errorf("p%v = %d, want %d", p, got, want)
		}
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("p99 of one = %d, want 7", got)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("p50 of none = %d, want 0", got)
	}
}
