package review

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

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

// maxGPUCount bounds a GPU or MIG count. The API server accepts any whole
// quantity (1e70000 included) for an extended resource; quota and cost
// arithmetic is done in float64, exact up to 2^53, and no pod asks for
// more than a handful of GPUs per container.
const maxGPUCount = 1 << 53

// checkGPUCounts refuses a pod (or pod template) whose containers ask for
// a GPU resource with a quantity that is not a whole number of devices
// Tollgate can count: a fraction, a negative number, or one past 2^53.
func (r *Reviewer) checkGPUCounts(ref string, spec *corev1.PodSpec, prefix string) error {
	gpu := func(name corev1.ResourceName) bool {
		if _, ok := r.cfg.Validators.GPUResources[string(name)]; ok {
			return true
		}
		return strings.HasPrefix(string(name), state.MIGResourcePrefix)
	}
	check := func(field string, rl corev1.ResourceList) error {
		for name, q := range rl {
			if !gpu(name) {
				continue
			}
			if n, ok := q.AsInt64(); !ok || n < 0 || n > maxGPUCount {
				return &InputError{Object: ref, Field: fmt.Sprintf("%s[%s]", field, name), Msg: q.String() + " is not a GPU count (a whole number of devices)"}
			}
		}
		return nil
	}
	lists := func(kind string, cs []corev1.Container) error {
		for i := range cs {
			base := fmt.Sprintf("%s.%s[%d].resources", prefix, kind, i)
			if err := check(base+".limits", cs[i].Resources.Limits); err != nil {
				return err
			}
			if err := check(base+".requests", cs[i].Resources.Requests); err != nil {
				return err
			}
		}
		return nil
	}
	if err := lists("initContainers", spec.InitContainers); err != nil {
		return err
	}
	return lists("containers", spec.Containers)
}
