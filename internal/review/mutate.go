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
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// ErrStateUnavailable is wrapped by a Mutator that could not read the
// cluster state it needs (a ServiceAccount, say) in time. The pod is then
// admitted as submitted, with a warning: mutation must not hold admission.
var ErrStateUnavailable = errors.New("cluster state unavailable")

// Mutation is what the mutators did to one pod.
type Mutation struct {
	Object kubeobjects.Ref
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

func newMutation(o *kubeobjects.Object) *Mutation {
	return &Mutation{Object: o.Ref(), Patch: []jsonpatch.Operation{}, Mutated: o.Raw, Warnings: []string{}}
}

// mutation is step 3's outcome within a pass.
type mutation struct {
	// result is what is reported: patch, warnings, reverts.
	result *Mutation
	// object is the mutated pod; nil when the mutators changed nothing,
	// were skipped, or their change was reverted.
	object   *kubeobjects.Object
	original []byte
}

func (m *mutation) changed() bool { return m != nil && m.object != nil }

// mutate is step 3: the mutator chain on a pod with Request.Mutate set.
// State the mutators need that cannot be read in time leaves the pod as
// submitted, with a warning: mutation must not hold admission. It returns
// nil when the object is not one to mutate.
func (p *pass) mutate(ctx context.Context) (*mutation, error) {
	o := p.req.Object
	if !p.req.Mutate || p.r.mutator == nil || p.target != engine.TargetPod {
		return nil, nil
	}
	m := &mutation{result: newMutation(o), original: o.Raw}
	pod, patch, raw, warnings, err := p.runMutator(ctx)
	m.result.Warnings = append(m.result.Warnings, warnings...)
	if errors.Is(err, ErrStateUnavailable) {
		m.result.Skipped = true
		m.result.Warnings = append(m.result.Warnings, fmt.Sprintf("%s was not mutated: %v", o.Ref(), err))
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if len(patch) == 0 {
		return m, nil
	}
	m.object = &kubeobjects.Object{GVK: o.GVK, Namespace: o.Namespace, Name: o.Name, Raw: raw, Typed: pod}
	m.result.Patch, m.result.Mutated = patch, raw
	return m, nil
}

// revert drops the mutation when the mutated pod is denied by a policy
// that does not deny the submitted pod, and says so; it reports whether it
// did.
func (m *mutation) revert(mutated, submitted *Result) bool {
	before := map[string]bool{}
	for _, d := range submitted.Denied() {
		before[d.Policy] = true
	}
	var added []string
	for _, d := range mutated.Denied() {
		if !before[d.Policy] {
			m.result.Reverted = append(m.result.Reverted, d)
			added = append(added, d.Policy+": "+d.Message)
		}
	}
	if len(added) == 0 {
		return false
	}
	m.result.Warnings = append(m.result.Warnings, fmt.Sprintf("%s was not mutated: the mutated pod would be denied (%s)", mutated.Object, strings.Join(added, "; ")))
	m.result.Patch, m.result.Mutated = []jsonpatch.Operation{}, m.original
	m.object = nil
	return true
}

// runMutator runs the mutator on a pod decoded from the request's raw bytes
// (not defaulted, so that the patch holds only what the mutators changed)
// and returns the mutated pod, the patch against the raw bytes, and the
// mutated JSON.
func (p *pass) runMutator(ctx context.Context) (*corev1.Pod, []jsonpatch.Operation, []byte, []string, error) {
	req := p.req
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
	mr := &MutationRequest{Pod: &pod, Namespace: p.ns, State: &p.state, Operation: req.Operation}
	if err := p.r.mutator.Mutate(ctx, mr); err != nil {
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
