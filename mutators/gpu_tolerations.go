package mutators

import (
	corev1 "k8s.io/api/core/v1"
)

// Accelerator resources that always count as a GPU request.
const (
	ResourceGPU       = "nvidia.com/gpu"
	ResourceMIGPrefix = "nvidia.com/mig-"
)

// GPUTolerations adds the configured tolerations (default nvidia.com/gpu,
// Exists, NoSchedule) to pods whose init or app containers request or limit
// nvidia.com/gpu, nvidia.com/mig-* or a configured extra accelerator (such
// as aws.amazon.com/neuron); accelerator pods with the training label
// (default workload=ml-training) also get the training tolerations (default
// workload-type=training:NoSchedule). Pods that request no accelerator get
// nothing. A toleration already covering a taint is left as the user wrote
// it and never duplicated.
func GPUTolerations(pod *corev1.Pod, env *Env) bool {
	cfg := &env.Config.GPUTolerations
	if !cfg.Enabled || !requestsAccelerator(pod, cfg.ExtraResources) {
		return false
	}
	changed := false
	add := func(ts []corev1.Toleration) {
		for _, t := range ts {
			if !covered(pod.Spec.Tolerations, t) {
				pod.Spec.Tolerations = append(pod.Spec.Tolerations, t)
				changed = true
			}
		}
	}
	add(cfg.Tolerations)
	if l := cfg.TrainingLabel; l.Key != "" && pod.Labels[l.Key] == l.Value {
		add(cfg.TrainingTolerations)
	}
	return changed
}

// requestsAccelerator reports whether an init or app container requests or
// limits a GPU, a MIG slice or one of the extra accelerator resources.
func requestsAccelerator(pod *corev1.Pod, extra []string) bool {
	for _, c := range containers(pod) {
		if hasResource(c, ResourceGPU) || hasResource(c, ResourceMIGPrefix+"*") {
			return true
		}
		for _, r := range extra {
			if hasResource(c, r) {
				return true
			}
		}
	}
	return false
}

// covered reports whether one of the pod's tolerations already covers the
// taint that t tolerates: same key (or a key-less Exists), a compatible
// effect, and, when t names a value, that value or Exists. A toleration of
// the same key with another value counts as covering an Exists one: the
// user chose which values to tolerate.
func covered(have []corev1.Toleration, t corev1.Toleration) bool {
	for _, h := range have {
		keyOK := h.Key == t.Key || (h.Key == "" && h.Operator == corev1.TolerationOpExists)
		effectOK := h.Effect == "" || h.Effect == t.Effect
		valueOK := t.Operator == corev1.TolerationOpExists || h.Operator == corev1.TolerationOpExists || h.Value == t.Value
		if keyOK && effectOK && valueOK {
			return true
		}
	}
	return false
}
