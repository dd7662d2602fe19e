package mutators

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

func TestFixtureDirectories(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{"fuzz"}
	for d := range fixtureDirs {
		want = append(want, d)
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("testdata holds %v, want %v: one directory per mutator, chain and fuzz", got, want)
	}
	for _, m := range Mutators() {
		if len(fixtureCases(t, strings.ReplaceAll(m.Name, "-", "_"))) == 0 {
			t.Errorf("mutator %s has no golden fixtures", m.Name)
		}
	}
}

func TestGolden(t *testing.T) {
	for _, f := range allFixtures(t) {
		t.Run(f.dir+"/"+f.name, func(t *testing.T) {
			got := render(t, f.mutate(t, mutatorsFor(f.dir)))
			path := f.path(".out.yaml")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the mutated pod (go test ./mutators -run TestGolden -update to accept):\n%s", path, got)
			}
		})
	}
}

// TestIdempotent checks over every fixture that mutating the mutated pod
// again yields an empty patch, for the whole chain and for each directory's
// mutators: the webhook is safe under reinvocationPolicy IfNeeded.
func TestIdempotent(t *testing.T) {
	for _, f := range allFixtures(t) {
		t.Run(f.dir+"/"+f.name, func(t *testing.T) {
			c := f.chain(t)
			for _, ms := range [][]Mutator{Mutators(), mutatorsFor(f.dir)} {
				once := mutate(t, c, f.raw, f.pod.Namespace, f.state, ms)
				twice := mutate(t, c, once.raw, f.pod.Namespace, f.state, ms)
				if len(twice.patch) != 0 {
					t.Errorf("mutating the mutated pod again gives %d patch operations:\n%s", len(twice.patch), render(t, twice))
				}
			}
		})
	}
}

// TestChangedIsReported checks that each mutator's result says whether it
// changed the pod, on every fixture, as the chain's fixed point relies on.
func TestChangedIsReported(t *testing.T) {
	for _, f := range allFixtures(t) {
		t.Run(f.dir+"/"+f.name, func(t *testing.T) {
			c := f.chain(t)
			var pod corev1.Pod
			if err := json.Unmarshal(f.raw, &pod); err != nil {
				t.Fatal(err)
			}
			ns, _ := f.state.Namespace(context.Background(), pod.Namespace)
			env, err := c.Env(context.Background(), &pod, ns, f.state)
			if err != nil {
				t.Fatal(err)
			}
			for pass := range 2 {
				for _, m := range Mutators() {
					before := pod.DeepCopy()
					changed := m.Mutate(&pod, env)
					if diff := !equality.Semantic.DeepEqual(before, &pod); diff != changed {
						t.Errorf("pass %d: %s reported changed=%v but the pod changed=%v", pass+1, m.Name, changed, diff)
					}
					if pass == 1 && changed {
						t.Errorf("%s changed the pod again on the second pass", m.Name)
					}
				}
			}
		})
	}
}

func TestNotConverging(t *testing.T) {
	f := loadFixture(t, "chain", "nothing-to-do")
	c := f.chain(t)
	flip := Mutator{Name: "flip", Mutate: func(p *corev1.Pod, _ *Env) bool {
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		if p.Labels["x"] == "a" {
			p.Labels["x"] = "b"
		} else {
			p.Labels["x"] = "a"
		}
		return true
	}}
	c.mutators = append(c.mutators, flip)
	var pod corev1.Pod
	if err := json.Unmarshal(f.raw, &pod); err != nil {
		t.Fatal(err)
	}
	env, err := c.Env(context.Background(), &pod, nil, f.state)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(&pod, env)
	if !errors.Is(err, ErrNotConverging) || !strings.Contains(err.Error(), "pod ai-inference/web still changed by flip after 3 passes") {
		t.Fatalf("got %v, want ErrNotConverging naming the pod and the mutator", err)
	}
}
