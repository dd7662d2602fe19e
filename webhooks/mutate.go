package webhooks

import (
	"context"
	"fmt"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/tollgate-dev/tollgate/internal/review"
)

// MutatingHandler is the /mutate webhook: pods on CREATE get the mutator chain's
// patch, a diff against the submitted object. It never denies: the
// /validate webhook judges the pod as mutated, so that a bad MIG profile
// is denied there with the same message as in eval and audit. It is safe
// under reinvocationPolicy: IfNeeded, since the mutators are idempotent.
type MutatingHandler struct {
	Reviewer *review.Reviewer
	Metrics  *Metrics
}

var _ admission.Handler = (*MutatingHandler)(nil)

// Handle mutates one admission request.
func (m *MutatingHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	resp, failed := m.handle(ctx, req)
	if failed != "" {
		m.Metrics.observeAs("mutate", start, failed)
	} else {
		m.Metrics.observe("mutate", start, resp)
	}
	return resp
}

// handle answers a request; on any failure it admits the pod unchanged
// with a warning and returns the outcome to count (bad_request or error):
// the mutating webhook never denies (its failurePolicy is Ignore, which
// only applies when it does not answer), and /validate decides.
func (m *MutatingHandler) handle(ctx context.Context, req admission.Request) (admission.Response, string) {
	switch {
	case req.Operation != admissionv1.Create:
		return admission.Allowed("operation " + string(req.Operation) + " is not mutated"), ""
	case req.Kind.Group != "" || req.Kind.Kind != "Pod" || req.SubResource != "":
		return admission.Allowed("only pods are mutated"), ""
	}
	o, err := decodeObject(req)
	if err != nil {
		return unmutated(err), "bad_request"
	}
	mut, err := m.Reviewer.Mutate(ctx, &review.Request{Object: o, Operation: string(req.Operation), User: req.UserInfo, Mutate: true})
	if review.IsInputError(err) {
		return unmutated(err), "bad_request"
	}
	if err != nil {
		return unmutated(fmt.Errorf("mutating %s: %w", o.Ref(), err)), "error"
	}
	if mut.Exempt != "" {
		return admission.Allowed(mut.Exempt), ""
	}
	for _, v := range mut.Reverted {
		m.Metrics.MutationsReverted.WithLabelValues(v.Policy).Inc()
	}
	if mut.Skipped {
		m.Metrics.MutationsSkipped.Inc()
	}
	resp := admission.Allowed("")
	if len(mut.Patch) > 0 {
		resp = admission.Patched("", mut.Patch...)
	}
	if len(mut.Warnings) > 0 {
		resp = resp.WithWarnings(mut.Warnings...)
	}
	return resp, ""
}

// unmutated admits a pod without a patch and says why in a warning.
func unmutated(err error) admission.Response {
	return admission.Allowed("").WithWarnings("Tollgate did not mutate this pod: " + err.Error())
}
