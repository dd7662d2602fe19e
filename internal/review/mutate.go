package review

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	jsonpatchapply "github.com/evanphx/json-patch/v5"
	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/objects"
)

// ErrStateUnavailable is wrapped by a Mutator that could not read the
// cluster state it needs (a ServiceAccount, say) in time. The pod is then
// admitted as submitted, with a warning: mutation must not hold admission.
var ErrStateUnavailable = errors.New("cluster state unavailable")

// Mutation is what the mutators did to one pod.
type Mutation struct {
	Object objects.Ref
	// Patch is the JSON patch from the submitted pod to the mutated one,
	// diffed against the submitted raw JSON; empty when nothing changed or
	// the mutation was reverted.
	Patch []jsonpatch.Operation
	// Mutated is the pod after Patch, as JSON.
	Mutated []byte
	// Warnings are the mutators' messages for the client, and why a
	// mutation was skipped or reverted.
	Warnings []string
	// Reverted lists the deny violations the mutated pod had and the
	// submitted pod did not; the patch was dropped because of them.
	Reverted []Violation
	// Skipped is set when the state the mutators need could not be read
	// in time (ErrStateUnavailable) and the pod was left as submitted.
	Skipped bool
	// Exempt says why the pod was not mutated, when it was not reviewed.
	Exempt string
}

// Mutate runs the mutators on a pod (the /mutate webhook). A pod the
// mutators changed is validated: when the mutated pod is denied by a policy
// that does not deny the submitted pod, the patch is dropped with a warning
// (no mutator may cause a denial). A pod they did not change is not
// validated here; the /validate webhook does that.
func (r *Reviewer) Mutate(ctx context.Context, req *Request) (*Mutation, error) {
	o := req.Object
	m := newMutation(o)
	switch {
	case TargetOf(o) != engine.TargetPod:
		m.Exempt = "only pods are mutated"
	case r.mutator == nil:
		m.Exempt = "no mutators are configured"
	case r.cfg.NamespaceExempt(o.Namespace):
		m.Exempt = "namespace " + o.Namespace + " is exempt"
	case r.cfg.UserExempt(req.User.Username):
		m.Exempt = "user " + req.User.Username + " is exempt"
	}
	if m.Exempt != "" {
		return m, nil
	}
	var ns *corev1.Namespace
	if o.Namespace != "" {
		var err error
		if ns, err = r.state.Namespace(ctx, o.Namespace); err != nil {
			return nil, fmt.Errorf("reading namespace %s: %w", o.Namespace, err)
		}
	}
	if _, err := r.mutation(ctx, req, ns, m); err != nil {
		return nil, err
	}
	return m, nil
}

func newMutation(o *objects.Object) *Mutation {
	return &Mutation{Object: o.Ref(), Patch: []jsonpatch.Operation{}, Mutated: o.Raw, Warnings: []string{}}
}

// reviewMutation is Review for a pod with Mutate set: the verdict is on the
// pod as it will be admitted (mutated, or as submitted when the mutation
// was skipped or reverted), with the patch and the mutators' warnings.
func (r *Reviewer) reviewMutation(ctx context.Context, req *Request, ns *corev1.Namespace) (*Result, error) {
	m := newMutation(req.Object)
	verdict, err := r.mutation(ctx, req, ns, m)
	if err != nil {
		return nil, err
	}
	if verdict == nil {
		plain := *req
		plain.Mutate = false
		if verdict, err = r.Review(ctx, &plain); err != nil {
			return nil, err
		}
	}
	verdict.Patch = m.Patch
	verdict.Mutated = m.Mutated
	verdict.Warnings = append(slices.Clip(m.Warnings), verdict.Warnings...)
	return verdict, nil
}

// mutation runs the mutators and fills m. When they changed the pod it
// validates the mutated pod, reverts the mutation if it caused a denial,
// and returns the verdict on the pod as it will be admitted; otherwise it
// returns nil.
func (r *Reviewer) mutation(ctx context.Context, req *Request, ns *corev1.Namespace, m *Mutation) (*Result, error) {
	o := req.Object
	pod, patch, raw, warnings, err := r.runMutator(ctx, req, ns)
	m.Warnings = append(m.Warnings, warnings...)
	if errors.Is(err, ErrStateUnavailable) {
		m.Skipped = true
		m.Warnings = append(m.Warnings, fmt.Sprintf("%s was not mutated: %v", o.Ref(), err))
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(patch) == 0 {
		return nil, nil
	}
	mutated := &objects.Object{GVK: o.GVK, Namespace: o.Namespace, Name: o.Name, Raw: raw, Typed: pod}
	verdict, err := r.Review(ctx, &Request{Object: mutated, OldObject: req.OldObject, Operation: req.Operation, User: req.User})
	if err != nil {
		return nil, fmt.Errorf("validating the mutated %s: %w", o.Ref(), err)
	}
	if denied := verdict.Denied(); len(denied) > 0 {
		plain := *req
		plain.Mutate = false
		submitted, err := r.Review(ctx, &plain)
		if err != nil {
			return nil, err
		}
		before := map[string]bool{}
		for _, d := range submitted.Denied() {
			before[d.Policy] = true
		}
		var added []string
		for _, d := range denied {
			if !before[d.Policy] {
				m.Reverted = append(m.Reverted, d)
				added = append(added, d.Policy+": "+d.Message)
			}
		}
		if len(added) > 0 {
			m.Warnings = append(m.Warnings, fmt.Sprintf("%s was not mutated: the mutated pod would be denied (%s)", o.Ref(), strings.Join(added, "; ")))
			return submitted, nil
		}
	}
	m.Patch, m.Mutated = patch, raw
	return verdict, nil
}

// runMutator runs the mutator on a pod decoded from the request's raw bytes
// (not defaulted, so that the patch holds only what the mutators changed)
// and returns the mutated pod, the patch against the raw bytes, and the
// mutated JSON.
func (r *Reviewer) runMutator(ctx context.Context, req *Request, ns *corev1.Namespace) (*corev1.Pod, []jsonpatch.Operation, []byte, []string, error) {
	var pod corev1.Pod
	if p := req.Object.Pod(); p != nil && !req.Object.RawStale {
		p.DeepCopyInto(&pod) // what Raw decodes to, without decoding it again
	} else if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("decoding %s: %w", req.Object.Ref(), err)
	}
	// Pods created through a namespaced URL may leave metadata.namespace
	// to the request; set it before the diff so that it is no change.
	if pod.Namespace == "" {
		pod.Namespace = req.Object.Namespace
	}
	before, err := json.Marshal(&pod)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	mr := &MutationRequest{Pod: &pod, Namespace: ns, State: r.state, Operation: req.Operation}
	if err := r.mutator.Mutate(ctx, mr); err != nil {
		return nil, nil, nil, mr.Warnings, err
	}
	after, err := json.Marshal(&pod)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	patch, raw, err := PatchAgainstRaw(req.Object.Raw, before, after)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("diffing the mutated %s: %w", req.Object.Ref(), err)
	}
	return &pod, patch, raw, mr.Warnings, nil
}

// PatchAgainstRaw returns the JSON patch that takes raw (an object as it
// was submitted) to the object with the changes between before and after
// (the object decoded from raw and re-encoded, before and after mutation),
// and that object as JSON. Diffing before and after first keeps out what
// re-encoding alone changes (numbers that become quantity strings, empty
// structs, fields the Go types do not know); the change is then applied to
// raw and the patch diffed against raw itself, so that it never replaces
// whole arrays. Operations are ordered by path, so that the patch is
// deterministic. If the change cannot be applied to raw, the patch is the
// plain diff between raw and after.
func PatchAgainstRaw(raw, before, after []byte) ([]jsonpatch.Operation, []byte, error) {
	change, err := jsonpatch.CreatePatch(before, after)
	if err != nil {
		return nil, nil, err
	}
	if len(change) == 0 {
		return []jsonpatch.Operation{}, raw, nil
	}
	// The API server encodes objects as Go does: when raw is what
	// re-encoding gives, the change is the patch.
	if sameJSON(raw, before) {
		sortPatch(change)
		return change, after, nil
	}
	mutated := after
	if b, err := json.Marshal(change); err == nil {
		if p, err := jsonpatchapply.DecodePatch(b); err == nil {
			if out, err := p.Apply(raw); err == nil {
				mutated = out
			}
		}
	}
	patch, err := jsonpatch.CreatePatch(raw, mutated)
	if err != nil {
		return nil, nil, err
	}
	sortPatch(patch)
	return patch, mutated, nil
}

// sameJSON reports whether a and b are the same JSON text, but for
// insignificant space.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// sortPatch orders operations by path, comparing array indexes as numbers.
// CreatePatch emits map members in random order; within one array it adds
// in increasing and removes in decreasing index order, which this keeps.
func sortPatch(ops []jsonpatch.Operation) {
	slices.SortStableFunc(ops, func(a, b jsonpatch.Operation) int {
		as, bs := strings.Split(a.Path, "/"), strings.Split(b.Path, "/")
		for i := 0; i < len(as) && i < len(bs); i++ {
			if as[i] == bs[i] {
				continue
			}
			ai, aerr := strconv.Atoi(as[i])
			bi, berr := strconv.Atoi(bs[i])
			if aerr != nil || berr != nil {
				return strings.Compare(as[i], bs[i])
			}
			c := ai - bi
			if a.Operation == "remove" && b.Operation == "remove" && i == len(as)-1 && i == len(bs)-1 {
				c = -c
			}
			return c
		}
		return len(as) - len(bs)
	})
}
