package mutators

import (
	"context"
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
	"github.com/tollgate-dev/tollgate/internal/podidentity"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

func TestCovered(t *testing.T) {
	gpu := corev1.Toleration{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	training := corev1.Toleration{Key: "workload-type", Operator: corev1.TolerationOpEqual, Value: "training", Effect: corev1.TaintEffectNoSchedule}
	for _, tc := range []struct {
		name string
		have []corev1.Toleration
		want corev1.Toleration
		ok   bool
	}{
		{"none", nil, gpu, false},
		{"same", []corev1.Toleration{gpu}, gpu, true},
		{"any effect", []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists}}, gpu, true},
		{"other effect", []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}, gpu, false},
		{"equal with a value covers exists", []corev1.Toleration{{Key: "nvidia.com/gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule}}, gpu, true},
		{"everything", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, gpu, true},
		{"other key", []corev1.Toleration{{Key: "example.com/x", Operator: corev1.TolerationOpExists}}, gpu, false},
		{"value matches", []corev1.Toleration{{Key: "workload-type", Operator: corev1.TolerationOpEqual, Value: "training"}}, training, true},
		{"value differs", []corev1.Toleration{{Key: "workload-type", Operator: corev1.TolerationOpEqual, Value: "inference"}}, training, false},
		{"exists covers a value", []corev1.Toleration{{Key: "workload-type", Operator: corev1.TolerationOpExists}}, training, true},
	} {
		if got := covered(tc.have, tc.want); got != tc.ok {
			t.Errorf("%s: covered = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestCanRunOnSpot(t *testing.T) {
	taints := config.Default().Mutators.Drain.SpotTaints
	req := func(op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: LabelCapacityType, Operator: op, Values: values}}}
	}
	other := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/arch", Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64"}}}}
	required := func(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	}
	spotNS := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{config.AnnotationCapacityType: "spot"}}}
	pool := func(name string, reqs ...any) map[string]any {
		return map[string]any{"metadata": map[string]any{"name": name},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"requirements": reqs}}}}
	}
	ct := func(op string, values ...any) any {
		return map[string]any{"key": LabelCapacityType, "operator": op, "values": values}
	}
	pools := []map[string]any{
		pool("spot-pool", ct("In", "spot", "on-demand")),
		pool("od-pool", ct("In", "on-demand")),
		pool("bare-pool", map[string]any{"key": "kubernetes.io/arch", "operator": "In", "values": []any{"amd64"}}),
	}
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		ns   *corev1.Namespace
		want bool
	}{
		{"nothing", corev1.PodSpec{}, nil, false},
		{"selector spot", corev1.PodSpec{NodeSelector: map[string]string{LabelCapacityType: "spot"}}, nil, true},
		{"selector on-demand beats namespace", corev1.PodSpec{NodeSelector: map[string]string{LabelCapacityType: "on-demand"}}, spotNS, false},
		{"namespace", corev1.PodSpec{}, spotNS, true},
		{"required In spot", corev1.PodSpec{Affinity: required(req(corev1.NodeSelectorOpIn, "spot", "on-demand"))}, nil, true},
		{"required NotIn on-demand", corev1.PodSpec{Affinity: required(req(corev1.NodeSelectorOpNotIn, "on-demand"))}, nil, true},
		{"required Exists", corev1.PodSpec{Affinity: required(req(corev1.NodeSelectorOpExists))}, nil, true},
		{"required without the key is not explicit", corev1.PodSpec{Affinity: required(other)}, nil, false},
		{"required without the key, namespace spot", corev1.PodSpec{Affinity: required(other)}, spotNS, true},
		{"every required term excludes spot", corev1.PodSpec{Affinity: required(req(corev1.NodeSelectorOpIn, "on-demand"), req(corev1.NodeSelectorOpDoesNotExist))}, spotNS, false},
		{"one term of two allows spot", corev1.PodSpec{Affinity: required(req(corev1.NodeSelectorOpIn, "on-demand"), req(corev1.NodeSelectorOpIn, "spot"))}, nil, true},
		{"toleration", corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: LabelCapacityType, Operator: corev1.TolerationOpExists}}}, nil, true},
		{"toleration of another value", corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: LabelCapacityType, Value: "reserved", Effect: corev1.TaintEffectNoSchedule}}}, nil, false},
		{"toleration with another effect", corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: LabelCapacityType, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}}, nil, false},
		{"key-less Exists tolerates every taint", corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}, nil, true},
		{"term naming the key twice", corev1.PodSpec{Affinity: required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{"spot", "on-demand"}},
			{Key: LabelCapacityType, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"spot"}}}})}, nil, false},
		{"required Gte", corev1.PodSpec{Affinity: required(req("Gte", "1"))}, nil, false},
		{"NodePool allowing spot", corev1.PodSpec{NodeSelector: map[string]string{LabelNodePool: "spot-pool"}}, nil, true},
		{"NodePool on-demand only beats namespace", corev1.PodSpec{NodeSelector: map[string]string{LabelNodePool: "od-pool"}}, spotNS, false},
		{"NodePool on-demand only beats toleration", corev1.PodSpec{NodeSelector: map[string]string{LabelNodePool: "od-pool"},
			Tolerations: []corev1.Toleration{{Key: LabelCapacityType, Operator: corev1.TolerationOpExists}}}, nil, false},
		{"NodePool without a capacity-type requirement is on-demand", corev1.PodSpec{NodeSelector: map[string]string{LabelNodePool: "bare-pool"}}, spotNS, false},
		{"unknown NodePool decides nothing", corev1.PodSpec{NodeSelector: map[string]string{LabelNodePool: "missing"}}, spotNS, true},
	} {
		if got := CanRunOnSpot(&corev1.Pod{Spec: tc.spec}, tc.ns, taints, pools); got != tc.want {
			t.Errorf("%s: CanRunOnSpot = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWorkloadClass(t *testing.T) {
	cfg := config.Default().Mutators.Drain
	cfg.Classes["checkpointing"] = config.DrainClass{PreStopSleepSeconds: 1, TerminationGracePeriodSeconds: 100}
	job := []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "j"}}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		policy corev1.RestartPolicy
		owners []metav1.OwnerReference
		want   string
	}{
		{"server", nil, "", nil, config.ClassInference},
		{"never restarts", nil, corev1.RestartPolicyNever, nil, config.ClassBatch},
		{"on failure", nil, corev1.RestartPolicyOnFailure, nil, config.ClassBatch},
		{"job owner", nil, corev1.RestartPolicyAlways, job, config.ClassBatch},
		{"label", map[string]string{cfg.ClassLabel: "checkpointing"}, "", nil, "checkpointing"},
		{"unknown label value", map[string]string{cfg.ClassLabel: "gpu"}, "", nil, config.ClassInference},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: tc.labels, OwnerReferences: tc.owners}, Spec: corev1.PodSpec{RestartPolicy: tc.policy}}
		if got := WorkloadClass(pod, &cfg); got != tc.want {
			t.Errorf("%s: class %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTargetGPUs(t *testing.T) {
	cat, err := gpucatalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	all := make([]string, 0, len(cat.GPUs))
	for g := range cat.GPUs {
		all = append(all, g)
	}
	slices.Sort(all)
	pool := func(name string, reqs ...map[string]any) map[string]any {
		rs := make([]any, len(reqs))
		for i, r := range reqs {
			rs[i] = r
		}
		return map[string]any{"metadata": map[string]any{"name": name}, "spec": map[string]any{"template": map[string]any{"spec": map[string]any{"requirements": rs}}}}
	}
	types := func(op string, v ...string) map[string]any {
		vs := make([]any, len(v))
		for i, s := range v {
			vs[i] = s
		}
		return map[string]any{"key": LabelInstanceType, "operator": op, "values": vs}
	}
	pools := []map[string]any{pool("mig", types("In", "p4de.24xlarge", "p5.48xlarge")), pool("no-p5", types("NotIn", "p5.48xlarge", "p5.4xlarge"), map[string]any{"key": LabelInstanceFamily, "operator": "In", "values": []any{"p5", "p4d"}})}
	for _, tc := range []struct {
		name     string
		selector map[string]string
		want     []string
	}{
		{"unconstrained", nil, all},
		{"instance type", map[string]string{LabelInstanceType: "p5e.48xlarge"}, []string{"H200"}},
		{"family", map[string]string{LabelInstanceFamily: "g6e"}, []string{"L40S"}},
		{"nodepool", map[string]string{LabelNodePool: "mig"}, []string{"A100-80GB", "H100-80GB"}},
		{"nodepool NotIn", map[string]string{LabelNodePool: "no-p5"}, []string{"A100-40GB"}},
		{"nodepool and type", map[string]string{LabelNodePool: "mig", LabelInstanceType: "p5.48xlarge"}, []string{"H100-80GB"}},
		{"unknown nodepool", map[string]string{LabelNodePool: "other"}, all},
		{"unknown type", map[string]string{LabelInstanceType: "x9.metal"}, all},
	} {
		got := TargetGPUs(&corev1.Pod{Spec: corev1.PodSpec{NodeSelector: tc.selector}}, pools, cat)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNewChainRejectsBadConfig(t *testing.T) {
	cat, err := gpucatalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().Mutators
	cfg.Drain.KubernetesVersion = "2.0"
	if _, err := NewChain(Options{Config: cfg, Catalog: cat}); err == nil {
		t.Error("a bad kubernetesVersion was accepted")
	}
	cfg = config.Default().Mutators
	if _, err := NewChain(Options{Config: cfg, Catalog: cat, ServerVersion: "1.29+"}); err != nil {
		t.Errorf("EKS-style server version: %v", err)
	}
	for _, tc := range []struct {
		config, server string
		want           int
	}{
		{"", "", DefaultKubernetesMinor},
		{"", "1.29+", 29},
		{"1.31", "1.29", 31},
	} {
		cfg.Drain.KubernetesVersion = tc.config
		c, err := NewChain(Options{Config: cfg, Catalog: cat, ServerVersion: tc.server})
		if err != nil || c.minor != tc.want {
			t.Errorf("config %q server %q: minor %d (%v), want %d", tc.config, tc.server, c.minor, err, tc.want)
		}
	}
}

// unavailable is cluster state that cannot be read.
type unavailable struct{ *state.Static }

func (unavailable) ServiceAccount(context.Context, string, string) (*corev1.ServiceAccount, error) {
	return nil, errors.New("informer not synced")
}

func (unavailable) NodePools(context.Context) ([]map[string]any, error) {
	return nil, errors.New("list timed out")
}

type downAssociations struct{}

func (downAssociations) Association(context.Context, string, string) (podidentity.Association, bool, error) {
	return podidentity.Association{}, false, errors.New("EKS API unreachable")
}

func TestChainStateUnavailable(t *testing.T) {
	cat, err := gpucatalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	pod := func(ann map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "p", Annotations: ann}, Spec: corev1.PodSpec{
			NodeSelector: map[string]string{LabelNodePool: "mig"},
			Containers:   []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{ResourceGPU: resource.MustParse("1")}}}},
		}}
	}
	cfg := config.Default().Mutators
	noCredentials := cfg
	noCredentials.Credentials.Enabled = false
	noDrain := noCredentials
	noDrain.Drain.Enabled = false
	for _, tc := range []struct {
		name  string
		cfg   config.Mutators
		assoc podidentity.Associations
		st    state.Reader
		pod   *corev1.Pod
		want  string
	}{
		{"ServiceAccount", cfg, nil, unavailable{state.NewStatic()}, pod(nil), "cluster state unavailable: ServiceAccount ai/default: informer not synced"},
		{"association", cfg, downAssociations{}, state.NewStatic(), pod(nil), "cluster state unavailable: Pod Identity association of ServiceAccount ai/default: EKS API unreachable"},
		{"NodePools", noDrain, nil, unavailable{state.NewStatic()}, pod(map[string]string{config.AnnotationMIGProfile: "3g.40gb"}), "cluster state unavailable: NodePools: list timed out"},
		{"NodePools for the drain", noCredentials, nil, unavailable{state.NewStatic()}, pod(nil), "cluster state unavailable: NodePools: list timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewChain(Options{Config: tc.cfg, Catalog: cat, Associations: tc.assoc})
			if err != nil {
				t.Fatal(err)
			}
			p := tc.pod
			before := p.DeepCopy()
			err = c.Mutate(context.Background(), &review.MutationRequest{Pod: p, State: tc.st, Operation: "CREATE"})
			if !errors.Is(err, review.ErrStateUnavailable) || err.Error() != tc.want {
				t.Errorf("error %v, want %q wrapping review.ErrStateUnavailable", err, tc.want)
			}
			if !equality.Semantic.DeepEqual(before, p) {
				t.Error("the pod changed although the state could not be read")
			}
		})
	}
	// Without a MIG profile and with the drain off the NodePools are not
	// read, and UPDATE is not mutated.
	c, _ := NewChain(Options{Config: noDrain, Catalog: cat})
	if err := c.Mutate(context.Background(), &review.MutationRequest{Pod: pod(nil), State: unavailable{state.NewStatic()}, Operation: "CREATE"}); err != nil {
		t.Errorf("NodePools read for a pod without a MIG profile: %v", err)
	}
	p := pod(nil)
	if err := c.Mutate(context.Background(), &review.MutationRequest{Pod: p, State: state.NewStatic(), Operation: "UPDATE"}); err != nil || len(p.Spec.Tolerations) != 0 {
		t.Errorf("UPDATE mutated: %v %v", err, p.Spec.Tolerations)
	}
}
