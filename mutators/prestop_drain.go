package mutators

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
)

// LabelCapacityType is Karpenter's node label for on-demand, spot and
// reserved capacity.
const LabelCapacityType = "karpenter.sh/capacity-type"

// CapacitySpot is its value on Spot nodes.
const CapacitySpot = "spot"

// nativeSleepMinor is the first Kubernetes minor with the lifecycle sleep
// action on by default (PodLifecycleSleepAction, beta in 1.30).
const nativeSleepMinor = 30

// defaultGracePeriod is what the API server sets when a pod sets none.
const defaultGracePeriod int64 = 30

// PreStopDrain gives pods that can land on Spot capacity (CanRunOnSpot) a
// drain: each app container without a preStop hook gets one that sleeps for
// its workload class's drain time, with the native sleep action (Kubernetes
// 1.30 and later) or exec sleep, and terminationGracePeriodSeconds is
// raised to the class's grace period when it is lower. The grace period is
// never raised past the Spot notice, and one the user set higher is kept.
// Init containers, sidecars included, are left alone: sidecars stop after
// the app containers, so they outlive the drain anyway. Pods that cannot
// run on Spot get nothing.
func PreStopDrain(pod *corev1.Pod, env *Env) bool {
	cfg := &env.Config.Drain
	if !cfg.Enabled || !SpotCapable(pod, env) {
		return false
	}
	class := cfg.Classes[WorkloadClass(pod, cfg)]
	added := false
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			continue
		}
		if c.Lifecycle == nil {
			c.Lifecycle = &corev1.Lifecycle{}
		}
		c.Lifecycle.PreStop = drainHandler(cfg, env.KubernetesMinor, class.PreStopSleepSeconds)
		added = true
	}
	if !added {
		return false
	}
	grace := defaultGracePeriod
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if want := min(class.TerminationGracePeriodSeconds, cfg.SpotNoticeSeconds); grace < want {
		pod.Spec.TerminationGracePeriodSeconds = &want
	}
	return true
}

func drainHandler(cfg *config.Drain, minor int, seconds int64) *corev1.LifecycleHandler {
	native := cfg.Action == config.DrainSleep || (cfg.Action == config.DrainAuto && minor >= nativeSleepMinor)
	if native {
		return &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: seconds}}
	}
	return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", strconv.FormatInt(seconds, 10)}}}
}

// WorkloadClass names a pod's drain class: the value of the class label
// when it names a configured class; else batch for pods of Jobs and pods
// that do not restart (restartPolicy Never or OnFailure); else inference.
func WorkloadClass(pod *corev1.Pod, cfg *config.Drain) string {
	if v, ok := pod.Labels[cfg.ClassLabel]; ok {
		if _, known := cfg.Classes[v]; known {
			return v
		}
	}
	if pod.Spec.RestartPolicy == corev1.RestartPolicyNever || pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
		return config.ClassBatch
	}
	for _, o := range pod.OwnerReferences {
		if o.Kind == "Job" && o.APIVersion == "batch/v1" {
			return config.ClassBatch
		}
	}
	return config.ClassInference
}

// SpotCapable is the drain's answer to "can this pod land on Spot": the
// placement's when it decides (a reachable NodePool or Node allows Spot;
// a pod whose reachable placements are all on-demand is not Spot), else
// CanRunOnSpot's judgement of the pod's own selectors. rego/spot/lib.rego
// gives the same answer.
func SpotCapable(pod *corev1.Pod, env *Env) bool {
	if res := env.Placement(pod); decides(res) {
		return res.Spot
	}
	return CanRunOnSpot(pod, env.Namespace, env.Config.Drain.SpotTaints, env.NodePools)
}

// CanRunOnSpot reports whether a pod may be scheduled on Spot capacity: it
// selects karpenter.sh/capacity-type=spot, its required or preferred node
// affinity allows spot on that key, it tolerates a Spot taint, its
// namespace is annotated tollgate.dev/capacity-type: spot, or the NodePool
// its node selector names allows Spot — unless its node selector, every
// required affinity term or that NodePool rules spot out. nodePools are the
// cluster's NodePools; a NodePool they do not hold decides nothing.
// rego/spot/lib.rego applies the same rules.
func CanRunOnSpot(pod *corev1.Pod, ns *corev1.Namespace, spotTaints []corev1.Taint, nodePools []map[string]any) bool {
	if v, ok := pod.Spec.NodeSelector[LabelCapacityType]; ok {
		return v == CapacitySpot
	}
	var required []corev1.NodeSelectorTerm
	var preferred []corev1.PreferredSchedulingTerm
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		if r := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			required = r.NodeSelectorTerms
		}
		preferred = a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	}
	if len(required) > 0 && !slices.ContainsFunc(required, func(t corev1.NodeSelectorTerm) bool { return termAdmitsSpot(t, false) }) {
		return false
	}
	poolSpot, poolKnown := false, false
	if name, ok := pod.Spec.NodeSelector[LabelNodePool]; ok {
		for _, np := range nodePools {
			if md, _ := np["metadata"].(map[string]any); md["name"] == name {
				poolKnown, poolSpot = true, nodePoolAllowsSpot(np)
				break
			}
		}
	}
	if poolKnown && !poolSpot {
		return false
	}
	if poolSpot ||
		slices.ContainsFunc(required, func(t corev1.NodeSelectorTerm) bool { return termAdmitsSpot(t, true) }) ||
		slices.ContainsFunc(preferred, func(p corev1.PreferredSchedulingTerm) bool { return termAdmitsSpot(p.Preference, true) }) {
		return true
	}
	for _, taint := range spotTaints {
		if slices.ContainsFunc(pod.Spec.Tolerations, func(t corev1.Toleration) bool { return tolerates(t, taint) }) {
			return true
		}
	}
	return ns != nil && ns.Annotations[config.AnnotationCapacityType] == CapacitySpot
}

// nodePoolAllowsSpot reports whether a NodePool's karpenter.sh/capacity-type
// requirements admit Spot. Without one, Karpenter launches on-demand only.
func nodePoolAllowsSpot(np map[string]any) bool {
	found := false
	for _, r := range nodePoolRequirements(np) {
		if r.key != LabelCapacityType {
			continue
		}
		found = true
		if !admitsSpot(r.op, r.values) {
			return false
		}
	}
	return found
}

// requirement is one entry of a NodePool's spec.template.spec.requirements.
type requirement struct {
	key, op string
	values  []string
}

// nodePoolRequirements reads the requirements of a NodePool held as JSON
// values; entries of the wrong shape read as empty.
func nodePoolRequirements(np map[string]any) []requirement {
	spec, _ := np["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	tspec, _ := tmpl["spec"].(map[string]any)
	reqs, _ := tspec["requirements"].([]any)
	out := make([]requirement, 0, len(reqs))
	for _, r := range reqs {
		m, _ := r.(map[string]any)
		var req requirement
		req.key, _ = m["key"].(string)
		req.op, _ = m["operator"].(string)
		vs, _ := m["values"].([]any)
		for _, v := range vs {
			if s, ok := v.(string); ok {
				req.values = append(req.values, s)
			}
		}
		out = append(out, req)
	}
	return out
}

// admitsSpot applies one requirement on karpenter.sh/capacity-type to the
// value spot. Numeric operators never admit a non-number.
func admitsSpot(op string, values []string) bool {
	spot := slices.Contains(values, CapacitySpot)
	switch corev1.NodeSelectorOperator(op) {
	case corev1.NodeSelectorOpIn:
		return spot
	case corev1.NodeSelectorOpNotIn:
		return !spot
	case corev1.NodeSelectorOpExists:
		return true
	}
	return false
}

// termAdmitsSpot reports whether a node selector term lets spot nodes
// through on karpenter.sh/capacity-type. With explicit set, the term must
// name the key; otherwise a term that does not mention it admits spot too.
func termAdmitsSpot(t corev1.NodeSelectorTerm, explicit bool) bool {
	mentioned := false
	for _, e := range t.MatchExpressions {
		if e.Key != LabelCapacityType {
			continue
		}
		mentioned = true
		if !admitsSpot(string(e.Operator), e.Values) {
			return false
		}
	}
	return mentioned || !explicit
}

// tolerates is the scheduler's toleration match for the Equal and Exists
// operators (Spot taints are not numeric).
func tolerates(t corev1.Toleration, taint corev1.Taint) bool {
	if (t.Effect != "" && t.Effect != taint.Effect) || (t.Key != "" && t.Key != taint.Key) {
		return false
	}
	switch t.Operator {
	case "", corev1.TolerationOpEqual:
		return t.Value == taint.Value
	case corev1.TolerationOpExists:
		return true
	}
	return false
}
