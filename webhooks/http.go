package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	kjson "sigs.k8s.io/json"
)

// MaxBodyBytes bounds an AdmissionReview body, sized from what the API
// server can send: an object as a client wrote it is at most
// kube-apiserver's request body limit (--max-request-body-bytes, 3 MiB by
// default; kubernetes/kubernetes#73805), and the object in a review also
// carries the managedFields the API server adds, which for an object of
// many small entries (thousands of containers) can be as large as the
// object; an UPDATE sends the old object as well. 2 x (3 + 3) MiB plus the
// envelope fits in 16 MiB; anything larger is refused with 413 before it
// is read. (etcd's 1.5 MiB limit applies only when the object is stored,
// after admission.)
const MaxBodyBytes = 16 << 20

// MaxInflightBytes bounds the request bodies being read and reviewed at
// once. A review holds several times its body in memory (the bytes, the
// typed object, the policy input), so a burst of maximum-size requests
// would otherwise multiply memory past the pod's limit; a request waits
// for room until its timeout and then gets 503, to which the API server
// applies the webhook's failurePolicy. Ordinary pods (kilobytes) never
// wait: 16 MiB is one maximum-size review at a time (which holds about
// 200 MiB while it is reviewed), or thousands of ordinary ones.
// docs/reliability.md has the measurement.
var MaxInflightBytes int64 = 16 << 20

// largeBody is the size from which a request counts as large: once the
// last of a burst of large requests is done, the memory they held is
// handed back to the operating system (releaseLater), instead of staying
// in the heap's free pages for minutes and counting against the pod's
// memory limit.
const largeBody = 1 << 20

// releaseDelay is how long after the last large request the memory is
// handed back: long enough that a burst is over, short enough that the
// RSS is back near its settled value within a minute.
var releaseDelay = 5 * time.Second

var release = struct {
	mu    sync.Mutex
	timer *time.Timer
}{}

// releaseLater schedules releaseMemory releaseDelay from now, postponing
// one already scheduled: once per burst.
func releaseLater() {
	release.mu.Lock()
	defer release.mu.Unlock()
	if release.timer == nil {
		release.timer = time.AfterFunc(releaseDelay, releaseMemory)
		return
	}
	release.timer.Reset(releaseDelay)
}

// releaseMemory hands the heap's free pages back to the operating system.
// It collects a few times: each collection halves the stacks the review
// workers grew for a large object's deep evaluation (the runtime shrinks
// an idle goroutine's stack by half per cycle), and the workers live as
// long as the process.
func releaseMemory() {
	for range 4 {
		debug.FreeOSMemory()
	}
}

var inflight = struct {
	once sync.Once
	sem  *semaphore.Weighted
}{}

func inflightBytes() *semaphore.Weighted {
	inflight.once.Do(func() { inflight.sem = semaphore.NewWeighted(MaxInflightBytes) })
	return inflight.sem
}

// DefaultTimeout bounds a review when the API server does not send its own
// timeout (it appends ?timeout=Ns to the webhook URL).
const DefaultTimeout = 10 * time.Second

// answerWithin is how long a review may take when the API server waits
// timeout for the answer: a little less, so that a review that runs out of
// time is answered (a refusal naming Tollgate's deadline on /validate, the
// pod unchanged on /mutate) before the API server gives up on the call and
// reports only "context deadline exceeded".
func answerWithin(timeout time.Duration) time.Duration {
	return timeout - min(timeout/10, time.Second)
}

// BodyReadTimeout bounds reading a request body. The server bounds headers
// (ReadHeaderTimeout) but not bodies; without this a client trickling a
// body would hold a connection and a goroutine for as long as it likes.
// The API server sends a review in one write, well within it.
var BodyReadTimeout = 10 * time.Second

// draining is set when Tollgate is shutting down (Drain).
var draining atomic.Bool

// Drain makes every later response close its connection. Over HTTP/1.1
// (HTTP/2 is off) a server that closes an idle keep-alive connection can
// race a request the API server is just sending on it, which then fails
// with EOF (a POST is not retried); answering with "Connection: close"
// while the shutdown delay runs makes the API server move to new
// connections, which the Service sends to ready replicas, before the
// server stops.
func Drain() { draining.Store(true) }

// Handler serves one webhook path. What is not an admission.k8s.io/v1
// AdmissionReview request (empty, oversized, not JSON, wrongly typed, no
// request or uid) gets an HTTP error with a message; the rest goes through
// controller-runtime's Webhook.Handle, which recovers panics and always sets
// the response UID, bounded by the API server's timeout.
func Handler(h admission.Handler) http.Handler {
	wh := &admission.Webhook{Handler: h}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close")
		}
		if r.Method != http.MethodPost {
			http.Error(w, "admission reviews are POSTed", http.StatusMethodNotAllowed)
			return
		}
		if r.ContentLength > MaxBodyBytes {
			http.Error(w, fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		}
		timeout := DefaultTimeout
		if t, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && t > 0 && t < timeout {
			timeout = t
		}
		// The server's base context ends when Tollgate shuts down; a review
		// in flight then still finishes (bounded by the API server's
		// timeout), so that a rolling restart fails no request.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), answerWithin(timeout))
		defer cancel()
		// A body of unknown length is charged as the largest one.
		weight := r.ContentLength
		if weight < 0 {
			weight = MaxBodyBytes
		}
		if err := inflightBytes().Acquire(ctx, weight); err != nil {
			http.Error(w, fmt.Sprintf("Tollgate is reviewing %d MiB of requests at once and this one waited its timeout", MaxInflightBytes>>20), http.StatusServiceUnavailable)
			return
		}
		defer func() {
			inflightBytes().Release(weight)
			if weight >= largeBody {
				releaseLater()
			}
		}()
		// Not every ResponseWriter supports deadlines (test recorders).
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(BodyReadTimeout))
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		ar, msg := decodeReview(body)
		if msg != "" {
			http.Error(w, msg, http.StatusBadRequest)
			return
		}
		var resp admission.Response
		if err := reviews().run(ctx, func() { resp = wh.Handle(ctx, admission.Request{AdmissionRequest: *ar.Request}) }); err != nil {
			// Not a verdict: the API server applies the webhook's
			// failurePolicy, as for any failed call.
			http.Error(w, "no review worker was free within the request's timeout", http.StatusServiceUnavailable)
			return
		}
		out := admissionv1.AdmissionReview{Response: &resp.AdmissionResponse}
		out.SetGroupVersionKind(admissionv1.SchemeGroupVersion.WithKind("AdmissionReview"))
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(out); err != nil {
			// The connection is gone; nothing more can be written.
			return
		}
	})
}

// decodeReview decodes an admission.k8s.io/v1 AdmissionReview request with
// the API machinery's case-sensitive JSON rules, or says why it is not one.
func decodeReview(body []byte) (*admissionv1.AdmissionReview, string) {
	var ar admissionv1.AdmissionReview
	if len(body) == 0 {
		return nil, "request body is empty"
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(body, &ar); err != nil {
		return nil, "request body is not an AdmissionReview: " + err.Error()
	}
	switch {
	case ar.Kind != "AdmissionReview":
		return nil, fmt.Sprintf("kind %q: want AdmissionReview", ar.Kind)
	case ar.APIVersion != "admission.k8s.io/v1":
		return nil, fmt.Sprintf("apiVersion %q: want admission.k8s.io/v1", ar.APIVersion)
	case ar.Request == nil:
		return nil, "AdmissionReview has no request"
	case ar.Request.UID == "":
		return nil, "AdmissionReview request has no uid"
	}
	return &ar, ""
}
