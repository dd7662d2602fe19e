// Package loadgen drives load, either open-loop at a fixed rate or
// closed-loop at maximum throughput, and reports latency percentiles, errors
// and throughput. HTTP runs replay request bodies against an HTTPS endpoint;
// any other operation (an API call, say) runs through RunOp.
//
// Open-loop runs start each operation when it is due, whether or not earlier
// ones have finished, and measure its latency from when it was due rather
// than from when it started: a server (or a generator) that falls behind
// shows its delay in the percentiles instead of hiding it by sending less
// (coordinated omission).
package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options describe one run.
type Options struct {
	// Rate is the open-loop rate in operations per second; 0 runs
	// closed-loop with Concurrency workers, each starting its next
	// operation when the previous one has finished.
	Rate float64
	// Concurrency is the number of closed-loop workers (default 32).
	Concurrency int
	// Duration bounds the measured part of the run.
	Duration time.Duration
	// Warmup runs the same load for this long first, unmeasured, so that
	// connections are open and caches warm.
	Warmup time.Duration
	// MaxInFlight bounds the open-loop operations under way; one due
	// while that many are pending is not started and counts as an error
	// (default 4096).
	MaxInFlight int
	// BeforeMeasure, when set, runs between the warm-up and the measured
	// part (to reset a server's resource counters, say).
	BeforeMeasure func() error
}

// Op is one operation; i numbers the operations of a run from 0. An error
// counts against the run, grouped by its message.
type Op func(ctx context.Context, i int) error

// Result is what one run measured.
type Result struct {
	// Rate is the rate asked for (0 for a closed-loop run).
	Rate        float64 `json:"rate"`
	Concurrency int     `json:"concurrency,omitempty"`
	// Requests counts the operations due (open loop) or started (closed
	// loop); OK those that succeeded.
	Requests int `json:"requests"`
	OK       int `json:"ok"`
	Errors   int `json:"errors"`
	// ErrorKinds counts errors by message.
	ErrorKinds map[string]int `json:"errorKinds,omitempty"`
	Elapsed    time.Duration  `json:"elapsed"`
	// Throughput is successful operations per second.
	Throughput float64 `json:"throughput"`
	// Latency percentiles of the successful operations.
	P50 time.Duration `json:"p50"`
	P95 time.Duration `json:"p95"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
	// Proto is the protocol an HTTP server answered with.
	Proto string `json:"proto,omitempty"`
}

// RunOp warms up, then measures op.
func RunOp(ctx context.Context, o Options, op Op) (*Result, error) {
	if o.Duration <= 0 || o.Rate < 0 {
		return nil, errors.New("loadgen: Duration must be positive and Rate not negative")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 4096
	}
	if o.Warmup > 0 {
		w := o
		w.Duration = o.Warmup
		if _, err := run(ctx, w, op); err != nil {
			return nil, err
		}
	}
	if o.BeforeMeasure != nil {
		if err := o.BeforeMeasure(); err != nil {
			return nil, err
		}
	}
	return run(ctx, o, op)
}

func run(ctx context.Context, o Options, op Op) (*Result, error) {
	rec := &recorder{kinds: map[string]int{}}
	start := time.Now()
	if o.Rate > 0 {
		openLoop(ctx, o, op, rec, start)
	} else {
		closedLoop(ctx, o, op, rec, start)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return rec.result(o, time.Since(start)), nil
}

// openLoop starts operation i at start + i/Rate.
func openLoop(ctx context.Context, o Options, op Op, rec *recorder, start time.Time) {
	interval := time.Duration(float64(time.Second) / o.Rate)
	n := int(o.Duration.Seconds() * o.Rate)
	inFlight := make(chan struct{}, o.MaxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		select {
		case inFlight <- struct{}{}:
		default:
			rec.record(errors.New("in-flight limit"), 0)
			continue
		}
		wg.Go(func() {
			defer func() { <-inFlight }()
			err := op(ctx, i)
			rec.record(err, time.Since(due))
		})
	}
}

// closedLoop runs Concurrency workers until Duration has passed.
func closedLoop(ctx context.Context, o Options, op Op, rec *recorder, start time.Time) {
	deadline := start.Add(o.Duration)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				began := time.Now()
				err := op(ctx, int(next.Add(1)-1))
				rec.record(err, time.Since(began))
			}
		})
	}
	wg.Wait()
}

type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	requests  int
	errors    int
	kinds     map[string]int
}

func (r *recorder) record(err error, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if err != nil {
		r.errors++
		msg := err.Error()
		if len(msg) > 160 {
			msg = msg[:160]
		}
		r.kinds[msg]++
		return
	}
	r.latencies = append(r.latencies, d)
}

func (r *recorder) result(o Options, elapsed time.Duration) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &Result{
		Rate: o.Rate, Requests: r.requests, OK: len(r.latencies), Errors: r.errors,
		ErrorKinds: r.kinds, Elapsed: elapsed,
		Throughput: float64(len(r.latencies)) / elapsed.Seconds(),
	}
	if o.Rate == 0 {
		res.Concurrency = o.Concurrency
	}
	slices.Sort(r.latencies)
	res.P50 = Percentile(r.latencies, 50)
	res.P95 = Percentile(r.latencies, 95)
	res.P99 = Percentile(r.latencies, 99)
	if n := len(r.latencies); n > 0 {
		res.Max = r.latencies[n-1]
	}
	return res
}

// Percentile returns the nearest-rank percentile p (0-100] of sorted
// latencies, or 0 when there are none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// HTTP is a replay of request bodies against one URL.
type HTTP struct {
	// URL receives every request, POSTed.
	URL string
	// Bodies are sent in turn, round robin.
	Bodies [][]byte
	// ContentType of the bodies (default application/json).
	ContentType string
	// Client sends the requests (see NewClient).
	Client *http.Client
	// Check validates a response body with status 200 (nil: any is fine).
	Check func(body []byte) error
}

// Run replays h with the load o describes.
func (h *HTTP) Run(ctx context.Context, o Options) (*Result, error) {
	if h.URL == "" || len(h.Bodies) == 0 || h.Client == nil {
		return nil, errors.New("loadgen: URL, Bodies and Client are required")
	}
	ct := h.ContentType
	if ct == "" {
		ct = "application/json"
	}
	var proto atomic.Value
	res, err := RunOp(ctx, o, func(ctx context.Context, i int) error {
		p, err := h.send(ctx, ct, h.Bodies[i%len(h.Bodies)])
		if p != "" && proto.Load() == nil {
			proto.Store(p)
		}
		return err
	})
	if res != nil {
		res.Proto, _ = proto.Load().(string)
	}
	return res, err
}

func (h *HTTP) send(ctx context.Context, ct string, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", ct)
	resp, err := h.Client.Do(req)
	if err != nil {
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			return "", errors.New("timeout")
		}
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return resp.Proto, fmt.Errorf("reading the response: %w", err)
	case resp.StatusCode != http.StatusOK:
		return resp.Proto, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if h.Check != nil {
		if err := h.Check(b); err != nil {
			return resp.Proto, fmt.Errorf("bad response: %w", err)
		}
	}
	return resp.Proto, nil
}

// NewClient returns a client that trusts the PEM CA bundle ca. With http2 it
// speaks HTTP/2 when the server offers it, multiplexing requests over one
// connection as kube-apiserver does when it calls a webhook; otherwise it
// keeps a pool of HTTP/1.1 keep-alive connections.
func NewClient(ca []byte, http2 bool) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("loadgen: no certificate in the CA bundle")
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   http2,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	if !http2 {
		// A non-nil empty map turns HTTP/2 off.
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}
