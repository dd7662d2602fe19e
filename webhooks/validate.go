// Package webhooks holds Tollgate's admission handlers: pod mutation, and
// validation of pods, workload templates, NodePools and ACK resources. Each
// handler decodes the request, hands it to the shared review path, and turns
// the result into an AdmissionResponse: denials, warnings, audit annotations
// and metrics.
package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// ValidatingHandler is the /validate webhook.
type ValidatingHandler struct {
	Reviewer *review.Reviewer
	Metrics  *Metrics
}

var _ admission.Handler = (*ValidatingHandler)(nil)

// Handle validates one admission request.
func (v *ValidatingHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	resp := v.handle(ctx, req)
	v.Metrics.observe("validate", start, resp)
	return resp
}

func (v *ValidatingHandler) handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("operation " + string(req.Operation) + " is not reviewed")
	}
	if !kubeobjects.Known(schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}) {
		return admission.Allowed("kind " + req.Kind.Kind + " is not reviewed")
	}
	o, err := decodeObject(req)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	var old *kubeobjects.Object
	if req.Operation == admissionv1.Update {
		if old, err = decodeOld(req); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if old.GVK != o.GVK {
			return admission.Errored(http.StatusBadRequest, fmt.Errorf("the old object of %s is %s %s", o.Ref(), gvkString(old.GVK), old.Ref()))
		}
		if !updateReviewed(req, o, old) {
			return admission.Allowed("update does not change what Tollgate reviews")
		}
	}
	res, err := v.Reviewer.Review(ctx, &review.Request{
		Object:    o,
		OldObject: old,
		Operation: string(req.Operation),
		User:      req.UserInfo,
	})
	if review.IsInputError(err) {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("reviewing %s: %w", o.Ref(), err))
	}
	for _, viol := range res.Violations {
		v.Metrics.Decisions.WithLabelValues(viol.Policy, string(viol.Action)).Inc()
	}
	for _, x := range res.Excepted {
		v.Metrics.ExceptionsApplied.WithLabelValues(x.Policy).Inc()
	}
	return toResponse(res)
}

// toResponse turns a review result into an admission response.
func toResponse(res *review.Result) admission.Response {
	var resp admission.Response
	if res.Allowed {
		resp = admission.Allowed("")
	} else {
		var parts []string
		for _, d := range res.Denied() {
			parts = append(parts, d.Policy+": "+d.Message)
		}
		resp = admission.Denied(fmt.Sprintf("Tollgate denied %s: %s", res.Object, strings.Join(parts, "; ")))
	}
	if len(res.Warnings) > 0 {
		resp = resp.WithWarnings(res.Warnings...)
	}
	if len(res.AuditAnnotations) > 0 {
		resp.AuditAnnotations = res.AuditAnnotations
	}
	return resp
}

// decodeObject decodes the request's object. Objects created through a
// namespaced URL may omit metadata.namespace; the request carries it. An
// object that is not what the request says (another kind, another
// namespace) is refused: the API server never sends one, so whoever did is
// not the API server, and an allow would be a bypass.
func decodeObject(req admission.Request) (*kubeobjects.Object, error) {
	want := schema.GroupVersionKind(req.Kind)
	o, err := kubeobjects.DecodeAs(req.Object.Raw, want)
	if errors.Is(err, kubeobjects.ErrUnknownKind) {
		var tm struct{ APIVersion, Kind string }
		_ = json.Unmarshal(req.Object.Raw, &tm)
		return nil, fmt.Errorf("request.kind is %s but the object is %s %s", gvkString(want), tm.APIVersion, tm.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("decoding %s %s/%s: %w", req.Kind.Kind, req.Namespace, req.Name, err)
	}
	if o.GVK != want {
		return nil, fmt.Errorf("request.kind is %s but the object is %s", gvkString(want), gvkString(o.GVK))
	}
	if o.Namespace != "" && o.Namespace != req.Namespace {
		return nil, fmt.Errorf("%s: metadata.namespace %q is not the request's namespace %q", o.Ref(), o.Namespace, req.Namespace)
	}
	if o.Namespace == "" {
		o.Namespace = req.Namespace
	}
	if o.Name == "" {
		o.Name = req.Name
	}
	return o, nil
}

// gvkString is a kind as apiVersion and kind read: "apps/v1 Deployment".
func gvkString(gvk schema.GroupVersionKind) string {
	return gvk.GroupVersion().String() + " " + gvk.Kind
}

func decodeOld(req admission.Request) (*kubeobjects.Object, error) {
	if len(req.OldObject.Raw) == 0 {
		return nil, fmt.Errorf("update of %s %s/%s without oldObject", req.Kind.Kind, req.Namespace, req.Name)
	}
	o, err := kubeobjects.Decode(req.OldObject.Raw, false)
	if err != nil {
		return nil, fmt.Errorf("decoding the old %s %s/%s: %w", req.Kind.Kind, req.Namespace, req.Name, err)
	}
	return o, nil
}

// updateReviewed decides whether an UPDATE is worth a review: a pod when
// ephemeral containers are added (kubectl debug), as Pod Security
// Admission does, or when the spec of a pod that still has scheduling
// gates changes (its node selector, affinity and tolerations may, until
// the last gate is removed); a workload when its pod template changed;
// NodePools and ACK resources always.
func updateReviewed(req admission.Request, o, old *kubeobjects.Object) bool {
	if p := o.Pod(); p != nil {
		op := old.Pod()
		switch {
		case op == nil || req.SubResource == "ephemeralcontainers" || len(p.Spec.EphemeralContainers) > len(op.Spec.EphemeralContainers):
			return true
		case len(op.Spec.SchedulingGates) > 0:
			return !equality.Semantic.DeepEqual(p.Spec, op.Spec)
		}
		return false
	}
	if t, _ := o.Template(); t != nil {
		ot, _ := old.Template()
		return ot == nil || !equality.Semantic.DeepEqual(t, ot)
	}
	return true
}
