package webhooks

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// blockingHandler holds every review until release is closed.
type blockingHandler struct{ started, release chan struct{} }

func (b blockingHandler) Handle(context.Context, admission.Request) admission.Response {
	b.started <- struct{}{}
	<-b.release
	return admission.Allowed("")
}

// TestInflightBytesBound: while one request holds the in-flight byte
// budget, a second that does not fit waits for its timeout and gets 503
// (not a verdict: the API server applies the failurePolicy); once the first
// is done, the budget is free again. A body past MaxBodyBytes by its
// Content-Length is refused before it is read.
func TestInflightBytesBound(t *testing.T) {
	sem := inflightBytes()
	// Leave room for one of the requests below and not two.
	body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":{}}}`)
	spare := MaxInflightBytes - int64(len(body)) - int64(len(body))/2
	if err := sem.Acquire(context.Background(), spare); err != nil {
		t.Fatal(err)
	}
	defer sem.Release(spare)

	h := blockingHandler{started: make(chan struct{}, 1), release: make(chan struct{})}
	srv := httptest.NewServer(Handler(h))
	defer srv.Close()
	first := make(chan int, 1)
	go func() {
		resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-h.started
	resp, err := http.Post(srv.URL+"?timeout=200ms", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg := new(bytes.Buffer)
	_, _ = msg.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(msg.String(), "waited its timeout") {
		t.Errorf("second request: HTTP %d %q, want 503 while the budget is held", resp.StatusCode, msg)
	}
	close(h.release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first request: HTTP %d", code)
	}
	h2 := blockingHandler{started: make(chan struct{}, 1), release: make(chan struct{})}
	close(h2.release)
	srv2 := httptest.NewServer(Handler(h2))
	defer srv2.Close()
	resp, err = http.Post(srv2.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the first finished: HTTP %d, want 200", resp.StatusCode)
	}

	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("x"))
	req.ContentLength = MaxBodyBytes + 1
	rec := httptest.NewRecorder()
	Handler(h).ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("declared %d bytes: HTTP %d, want 413", req.ContentLength, rec.Code)
	}
}

// TestDrainClosesConnections: once Tollgate drains, every answer closes
// its connection, so the API server stops reusing it before the server
// stops.
func TestDrainClosesConnections(t *testing.T) {
	h := blockingHandler{started: make(chan struct{}, 2), release: make(chan struct{})}
	close(h.release)
	srv := httptest.NewServer(Handler(h))
	defer srv.Close()
	body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":{}}}`)
	post := func() *http.Response {
		resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(); resp.Close {
		t.Fatal("a connection closed before draining")
	}
	Drain()
	t.Cleanup(func() { draining.Store(false) })
	// net/http reads "Connection: close" into Response.Close.
	if resp := post(); !resp.Close {
		t.Error("while draining: the answer keeps its connection open, want Connection: close")
	}
}

func TestAnswerWithin(t *testing.T) {
	for _, tc := range []struct{ timeout, want time.Duration }{
		{5 * time.Second, 4500 * time.Millisecond},
		{10 * time.Second, 9 * time.Second},
		{30 * time.Second, 29 * time.Second},
		{time.Second, 900 * time.Millisecond},
	} {
		if got := answerWithin(tc.timeout); got != tc.want {
			t.Errorf("answerWithin(%s) = %s, want %s", tc.timeout, got, tc.want)
		}
	}
}
