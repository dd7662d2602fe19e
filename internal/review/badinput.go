package review

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// InputError is an object the API server may accept but Tollgate cannot
// judge, with the field that makes it so. Webhooks answer it with a 400
// refusal and count it as bad input, eval exits 2: it is the object's
// fault, not Tollgate's.
type InputError struct {
	// Object is the object's reference, e.g. "Pod ns/name".
	Object string
	// Field is the path of the offending field; empty when the object's
	// JSON as a whole cannot be read.
	Field string
	Msg   string
}

func (e *InputError) Error() string {
	if e.Field == "" {
		return e.Object + ": " + e.Msg
	}
	return fmt.Sprintf("%s: %s: %s", e.Object, e.Field, e.Msg)
}

// IsInputError reports whether err is (or wraps) an InputError.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// checkGPUCounts refuses a pod (or pod template) whose containers ask for
// a GPU resource with a quantity that is not a whole number of devices
// Tollgate can count: a fraction, a negative number, or one past 2^53.
// It allocates nothing unless it refuses: it runs on every review.
// prefix is the path of the pod spec: "spec", or a template's path
// ("spec.template", "spec.jobTemplate.spec.template") with ".spec" added
// only on a refusal.
func (r *Reviewer) checkGPUCounts(o *kubeobjects.Object, spec *corev1.PodSpec, prefix string) error {
	for _, group := range [2]struct {
		kind string
		cs   []corev1.Container
	}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
		for i := range group.cs {
			res := &group.cs[i].Resources
			for _, list := range [2]struct {
				field string
				rl    corev1.ResourceList
			}{{"limits", res.Limits}, {"requests", res.Requests}} {
				for name, q := range list.rl {
					if _, gpu := r.gpus.Weight(name); !gpu {
						continue
					}
					if n, ok := q.AsInt64(); !ok || n < 0 || n > state.MaxGPUCount {
						return &InputError{
							Object: o.Ref().String(),
							Field:  fmt.Sprintf("%s.%s[%d].resources.%s[%s]", specPath(prefix), group.kind, i, list.field, name),
							Msg:    q.String() + " is not a GPU count (a whole number of devices)",
						}
					}
				}
			}
		}
	}
	return nil
}

func specPath(prefix string) string {
	if prefix == "spec" {
		return prefix
	}
	return prefix + ".spec"
}
