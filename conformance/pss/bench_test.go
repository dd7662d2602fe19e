package pss

import (
	"encoding/json"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"k8s.io/utils/ptr"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// restrictedPod is a vLLM inference pod that passes the restricted level.
func restrictedPod(containers int) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "vllm-0", Namespace: "ai-inference", Labels: map[string]string{"app": "vllm"}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "vllm",
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](1000),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Volumes: []corev1.Volume{
				{Name: "models", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "models"}}},
				{Name: "shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
			},
		},
	}
	for i := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{
			Name:  fmt.Sprintf("vllm-%d", i),
			Image: "vllm/vllm-openai:v0.6.3",
			Args:  []string{"--model", "meta-llama/Llama-3.1-8B-Instruct", "--tensor-parallel-size", "1"},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}},
			Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("32Gi")},
			},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health"}}},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "models", MountPath: "/models"}, {Name: "shm", MountPath: "/dev/shm"}},
		})
	}
	kubeobjects.DefaultPod(p)
	return p
}

// BenchmarkPSS compares Tollgate's restricted-level evaluation of a pod with
// the upstream Go evaluator on the same pod. "tollgate" is the whole path a
// decoded object takes (defaulting, input conversion, evaluation of every
// policy family, actions) with the pss Rego always run; "admission" is the
// same path as serve runs it, where upstream's evaluator answers for a pod
// it allows; "upstream" is policy.Evaluator.EvaluatePod.
func BenchmarkPSS(b *testing.B) {
	for _, n := range []int{1, 20} {
		pod := restrictedPod(n)
		raw, err := json.Marshal(pod)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("containers=%d/tollgate", n), func(b *testing.B) {
			r := reviewer(b, "restricted", "latest")
			o, err := kubeobjects.Decode(raw, false)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				res, err := r.Review(b.Context(), &review.Request{Object: o, Operation: "CREATE"})
				if err != nil || !res.Allowed {
					b.Fatalf("err=%v allowed=%v", err, res != nil && res.Allowed)
				}
			}
		})
		b.Run(fmt.Sprintf("containers=%d/admission", n), func(b *testing.B) {
			cfg := config.Default()
			cfg.PSS = config.PSS{Level: "restricted", Version: "latest"}
			r, err := review.New(embeddedEngine(b), cfg, state.NewStatic())
			if err != nil {
				b.Fatal(err)
			}
			o, err := kubeobjects.Decode(raw, false)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				res, err := r.Review(b.Context(), &review.Request{Object: o, Operation: "CREATE"})
				if err != nil || !res.Allowed {
					b.Fatalf("err=%v allowed=%v", err, res != nil && res.Allowed)
				}
			}
		})
		b.Run(fmt.Sprintf("containers=%d/upstream", n), func(b *testing.B) {
			e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
			if err != nil {
				b.Fatal(err)
			}
			lv := api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
			b.ReportAllocs()
			for b.Loop() {
				if !policy.AggregateCheckResults(e.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec)).Allowed {
					b.Fatal("upstream denied")
				}
			}
		})
	}
}
