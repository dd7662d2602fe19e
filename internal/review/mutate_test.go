package review_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// mutatorFunc adapts a function to review.PodMutator.
type mutatorFunc func(ctx context.Context, m *review.MutationRequest) error

func (f mutatorFunc) Mutate(ctx context.Context, m *review.MutationRequest) error { return f(ctx, m) }

var (
	engineOnce sync.Once
	testEngine *engine.Engine
	engineErr  error
)

func reviewer(t *testing.T, m review.PodMutator) *review.Reviewer {
	t.Helper()
	engineOnce.Do(func() {
		testEngine, engineErr = wiring.NewEngine(context.Background(), config.Default(), nil)
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	r, err := review.New(engine.NewHolder(testEngine), config.Default(), state.NewStatic(), review.WithMutator(m))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// compliant passes the restricted level; quantities are numbers and there
// is no creationTimestamp or status, as in a hand-written manifest.
const compliant = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ai"},"spec":{
"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"c","image":"i:1","resources":{"limits":{"nvidia.com/gpu":1}},
"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`

func object(t *testing.T, raw string) *kubeobjects.Object {
	t.Helper()
	o, err := kubeobjects.Decode([]byte(raw), false)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

var (
	tolerate = mutatorFunc(func(_ context.Context, m *review.MutationRequest) error {
		if len(m.Pod.Spec.Tolerations) == 0 {
			m.Pod.Spec.Tolerations = []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
		}
		m.Warnings = append(m.Warnings, "tolerated")
		return nil
	})
	escalate = mutatorFunc(func(_ context.Context, m *review.MutationRequest) error {
		t := true
		m.Pod.Spec.Containers[0].SecurityContext.Privileged = &t
		m.Pod.Spec.Tolerations = []corev1.Toleration{{Key: "x", Operator: corev1.TolerationOpExists}}
		return nil
	})
)

func ops(patch []jsonpatch.Operation) []string {
	var out []string
	for _, p := range patch {
		v, _ := json.Marshal(p.Value)
		out = append(out, p.Operation+" "+p.Path+" "+string(v))
	}
	return out
}

func TestMutate(t *testing.T) {
	privileged := strings.Replace(compliant, `"allowPrivilegeEscalation":false`, `"allowPrivilegeEscalation":false,"privileged":true`, 1)
	for _, tc := range []struct {
		name     string
		mutator  review.PodMutator
		object   string
		patch    []string
		warnings []string
		reverted []string
		skipped  bool
		exempt   string
		err      string
	}{
		{"patch against the raw object", tolerate, compliant,
			[]string{`add /spec/tolerations [{"effect":"NoSchedule","key":"nvidia.com/gpu","operator":"Exists"}]`}, []string{"tolerated"}, nil, false, "", ""},
		{"a mutation that causes a denial is reverted", escalate, compliant, nil,
			[]string{`Pod ai/p was not mutated: the mutated pod would be denied (pss.baseline.privileged: privileged (container "c" must not set securityContext.privileged=true))`},
			[]string{"pss.baseline.privileged"}, false, "", ""},
		{"a denial the submitted pod already has is not the mutation's", escalate, privileged,
			[]string{`add /spec/tolerations [{"key":"x","operator":"Exists"}]`}, nil, nil, false, "", ""},
		{"state unavailable", mutatorFunc(func(context.Context, *review.MutationRequest) error {
			return fmt.Errorf("%w: ServiceAccount ai/sa: timed out", review.ErrStateUnavailable)
		}), compliant, nil, []string{"Pod ai/p was not mutated: cluster state unavailable: ServiceAccount ai/sa: timed out"}, nil, true, "", ""},
		{"other errors fail", mutatorFunc(func(context.Context, *review.MutationRequest) error { return errors.New("bug") }), compliant, nil, nil, nil, false, "", "bug"},
		{"exempt namespace", escalate, strings.Replace(compliant, `"namespace":"ai"`, `"namespace":"kube-system"`, 1), nil, nil, nil, false, "namespace kube-system is exempt", ""},
		{"not a pod", escalate, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"ai"},"spec":{"selector":{},"template":{"spec":{"containers":[{"name":"c","image":"i:1"}]}}}}`, nil, nil, nil, false, "only pods are mutated", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := reviewer(t, tc.mutator).Mutate(context.Background(), &review.Request{Object: object(t, tc.object), Operation: "CREATE", Mutate: true})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ops(m.Patch); !slices.Equal(got, tc.patch) {
				t.Errorf("patch %q, want %q", got, tc.patch)
			}
			if !slices.Equal(m.Warnings, tc.warnings) && !(len(m.Warnings) == 0 && len(tc.warnings) == 0) {
				t.Errorf("warnings %q, want %q", m.Warnings, tc.warnings)
			}
			var reverted []string
			for _, v := range m.Reverted {
				reverted = append(reverted, v.Policy)
			}
			if !slices.Equal(reverted, tc.reverted) {
				t.Errorf("reverted %v, want %v", reverted, tc.reverted)
			}
			if m.Skipped != tc.skipped || m.Exempt != tc.exempt {
				t.Errorf("skipped %v exempt %q, want %v %q", m.Skipped, m.Exempt, tc.skipped, tc.exempt)
			}
			if len(m.Patch) == 0 && string(m.Mutated) != string(object(t, tc.object).Raw) {
				t.Errorf("without a patch, Mutated is the submitted pod")
			}
		})
	}
}

// TestReviewWithMutation checks that eval's path (Review with Mutate)
// reverts like the webhook and judges the pod as it will be admitted.
func TestReviewWithMutation(t *testing.T) {
	ctx := context.Background()
	res, err := reviewer(t, escalate).Review(ctx, &review.Request{Object: object(t, compliant), Operation: "CREATE", Mutate: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Allowed || len(res.Patch) != 0 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "was not mutated") {
		t.Errorf("reverted mutation: allowed %v patch %v warnings %q", res.Allowed, res.Patch, res.Warnings)
	}
	res, err = reviewer(t, tolerate).Review(ctx, &review.Request{Object: object(t, compliant), Operation: "CREATE", Mutate: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Allowed || len(res.Patch) != 1 || !slices.Equal(res.Warnings, []string{"tolerated"}) || !strings.Contains(string(res.Mutated), `"tolerations"`) {
		t.Errorf("mutation: allowed %v patch %v warnings %q mutated %s", res.Allowed, res.Patch, res.Warnings, res.Mutated)
	}
}

func TestPatchAgainstRaw(t *testing.T) {
	raw := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","x-unknown":1},"spec":{"containers":[` +
		`{"name":"a","env":[{"name":"A","value":"1"}],"resources":{"limits":{"nvidia.com/gpu":1}}},{"name":"b"}]}}`)
	var pod corev1.Pod
	if err := json.Unmarshal(raw, &pod); err != nil {
		t.Fatal(err)
	}
	before, _ := json.Marshal(&pod)
	lim := pod.Spec.Containers[0].Resources.Limits
	lim["nvidia.com/mig-1g.10gb"] = lim["nvidia.com/gpu"]
	delete(lim, "nvidia.com/gpu")
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "B", Value: "2"}, corev1.EnvVar{Name: "C", Value: "3"})
	pod.Spec.Containers[1].Env = []corev1.EnvVar{{Name: "B", Value: "2"}}
	after, _ := json.Marshal(&pod)
	want := []string{
		`add /spec/containers/0/env/1 {"name":"B","value":"2"}`,
		`add /spec/containers/0/env/2 {"name":"C","value":"3"}`,
		`remove /spec/containers/0/resources/limits/nvidia.com~1gpu null`,
		`add /spec/containers/0/resources/limits/nvidia.com~1mig-1g.10gb "1"`,
		`add /spec/containers/1/env [{"name":"B","value":"2"}]`,
	}
	for range 20 { // CreatePatch walks maps in random order
		patch, mutated, err := review.PatchAgainstRaw(raw, before, after)
		if err != nil {
			t.Fatal(err)
		}
		if got := ops(patch); !slices.Equal(got, want) {
			t.Fatalf("patch\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !strings.Contains(string(mutated), `"x-unknown":1`) {
			t.Errorf("a field the Go types do not know must survive: %s", mutated)
		}
	}
	if patch, mutated, err := review.PatchAgainstRaw(raw, before, before); err != nil || len(patch) != 0 || string(mutated) != string(raw) {
		t.Errorf("no change: %v %s %v", patch, mutated, err)
	}
	// Raw as Go encodes it (compact or indented), as the API server sends
	// objects: the same patch, the short way.
	var indented bytes.Buffer
	_ = json.Indent(&indented, before, "", "  ")
	for _, same := range [][]byte{before, indented.Bytes()} {
		patch, mutated, err := review.PatchAgainstRaw(same, before, after)
		if err != nil {
			t.Fatal(err)
		}
		if got := ops(patch); !slices.Equal(got, want) {
			t.Errorf("raw re-encoded: patch\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if string(mutated) != string(after) {
			t.Errorf("raw re-encoded: mutated %s", mutated)
		}
	}
}
