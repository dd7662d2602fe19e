package mutators

import (
	"encoding/json"
	"regexp"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// userFieldChanges are the only patch operations that change what the
// user wrote rather than add to it: the MIG rewrite of nvidia.com/gpu and
// a grace period raised for the drain.
var userFieldChanges = regexp.MustCompile(`^/spec/(initContainers|containers)/\d+/resources/(requests|limits)/nvidia\.com~1gpu$|^/spec/terminationGracePeriodSeconds$`)

// FuzzChain runs the whole chain on arbitrary pods, with a namespace that
// may default a MIG profile and Spot, and a ServiceAccount that may carry
// a role ARN. The chain must converge, be idempotent, and only add to the
// pod, except for the MIG rewrite and the grace period. The seed corpus is
// testdata/fuzz/FuzzChain.
func FuzzChain(f *testing.F) {
	cfg := loadFixture(f, "chain", "all-mutators").cfg
	f.Fuzz(func(t *testing.T, podJSON []byte, profile, roleARN string, spotNamespace bool) {
		var pod corev1.Pod
		if json.Unmarshal(podJSON, &pod) != nil {
			return
		}
		pod.APIVersion, pod.Kind = "v1", "Pod"
		pod.Namespace = "fuzz"
		raw, err := json.Marshal(&pod)
		if err != nil {
			return
		}
		var ns corev1.Namespace
		ns.Annotations = map[string]string{"tollgate.dev/mig-profile": profile}
		ns.APIVersion, ns.Kind, ns.Name = "v1", "Namespace", "fuzz"
		if spotNamespace {
			ns.Annotations["tollgate.dev/capacity-type"] = "spot"
		}
		sa := corev1.ServiceAccount{}
		sa.APIVersion, sa.Kind, sa.Namespace, sa.Name = "v1", "ServiceAccount", "fuzz", pod.Spec.ServiceAccountName
		if sa.Name == "" {
			sa.Name = "default"
		}
		sa.Annotations = map[string]string{"eks.amazonaws.com/role-arn": roleARN}
		st := state.NewStatic()
		for _, o := range []any{&ns, &sa} {
			b, _ := json.Marshal(o)
			obj, err := kubeobjects.Decode(b, false)
			if err != nil {
				t.Fatal(err)
			}
			st.Add(obj)
		}
		fx := &fixture{dir: "fuzz", name: "case", raw: raw, state: st, cfg: cfg}
		c := fx.chain(t)
		once := mutate(t, c, raw, "fuzz", st, Mutators())
		for _, op := range once.patch {
			if op.Operation != "add" && !userFieldChanges.MatchString(op.Path) {
				t.Errorf("the chain changed what the user set: %s %s", op.Operation, op.Path)
			}
		}
		if twice := mutate(t, c, once.raw, "fuzz", st, Mutators()); len(twice.patch) != 0 {
			t.Errorf("not idempotent: %v", twice.patch)
		}
	})
}
