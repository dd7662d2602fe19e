package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
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
	resp := m.handle(ctx, req)
	m.Metrics.observe("mutate", start, resp)
	return resp
}

func (m *MutatingHandler) handle(ctx context.Context, req admission.Request) admission.Response {
	switch {
	case req.Operation != admissionv1.Create:
		return admission.Allowed("operation " + string(req.Operation) + " is not mutated")
	case req.Kind.Group != "" || req.Kind.Kind != "Pod" || req.SubResource != "":
		return admission.Allowed("only pods are mutated")
	}
	o, err := decodeObject(req)
	if errors.Is(err, kubeobjects.ErrUnknownKind) {
		return admission.Allowed("only pods are mutated")
	}
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	mut, err := m.Reviewer.Mutate(ctx, &review.Request{Object: o, Operation: string(req.Operation), User: req.UserInfo, Mutate: true})
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("mutating %s: %w", o.Ref(), err))
	}
	if mut.Exempt != "" {
		return admission.Allowed(mut.Exempt)
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
	return resp
}
