package review

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// Most pods break no Pod Security Standards check. Upstream Pod Security
// Admission's Go evaluator says so in about a microsecond, where the pss
// Rego takes a hundred; the two agree on every upstream fixture and on
// randomly generated pods (conformance/pss). So the Rego runs only when
// upstream finds something: it then decides, with Tollgate's messages,
// paths, actions and exemptions. A pod upstream allows gets no pss finding
// from the Rego either.
var pssEvaluator = mustEvaluator()

func mustEvaluator() policy.Evaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(err)
	}
	return e
}

// pssClean reports whether upstream's evaluator allows the pod or pod
// template of o at level and version: then no pss check can report.
func pssClean(o *kubeobjects.Object, target engine.Target, level string, version engine.Version) bool {
	var meta *metav1.ObjectMeta
	var spec *corev1.PodSpec
	switch target {
	case engine.TargetPod:
		p := o.Pod()
		if p == nil {
			return false
		}
		meta, spec = &p.ObjectMeta, &p.Spec
	case engine.TargetTemplate:
		t, _ := o.Template()
		if t == nil {
			return false
		}
		meta, spec = &t.ObjectMeta, &t.Spec
	default:
		return false
	}
	var lvl psapi.Level
	switch level {
	case "baseline":
		lvl = psapi.LevelBaseline
	case "restricted":
		lvl = psapi.LevelRestricted
	default:
		return false
	}
	v := min(version, engine.LatestPSSVersion)
	lv := psapi.LevelVersion{Level: lvl, Version: psapi.MajorMinorVersion(1, int(v))}
	return policy.AggregateCheckResults(pssEvaluator.EvaluatePod(lv, meta, spec)).Allowed
}
