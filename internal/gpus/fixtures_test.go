package gpus

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/fixtures")

// Golden fixtures: testdata/fixtures/<case>.yaml holds DeviceClasses,
// ResourceClaimTemplates, ResourceClaims and Pods; <case>.golden.yaml is
// what each pod, template and claim counts and each namespace's usage.
type golden struct {
	Pods      map[string]Count      `json:"pods,omitempty"`
	Templates map[string]Count      `json:"templates,omitempty"`
	Claims    map[string]ClaimState `json:"claims,omitempty"`
	Usage     map[string]Usage      `json:"usage,omitempty"`
}

type fixtureObjects struct {
	pods   []*corev1.Pod
	claims []*resourcev1.ResourceClaim
	source *Static
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

func loadFixtureObjects(t *testing.T, path string) fixtureObjects {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := fixtureObjects{source: static(t)}
	for i, doc := range docSeparator.Split(string(b), -1) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		var obj any
		switch tm.Kind {
		case "":
			continue
		case "Pod":
			obj = &corev1.Pod{}
		case "ResourceClaim":
			obj = &resourcev1.ResourceClaim{}
		case "ResourceClaimTemplate":
			obj = &resourcev1.ResourceClaimTemplate{}
		case "DeviceClass":
			obj = &resourcev1.DeviceClass{}
		default:
			t.Fatalf("%s: document %d: kind %s is not a fixture kind", path, i, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		switch o := obj.(type) {
		case *corev1.Pod:
			f.pods = append(f.pods, o)
		case *resourcev1.ResourceClaim:
			f.claims = append(f.claims, o)
			_ = f.source.Add(o)
		default:
			_ = f.source.Add(o)
		}
	}
	return f
}

func fixtureCases(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("testdata/fixtures")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, e := range entries {
		files[e.Name()] = true
	}
	var cases []string
	for name := range files {
		switch {
		case strings.HasSuffix(name, ".golden.yaml"):
			if !files[strings.TrimSuffix(name, ".golden.yaml")+".yaml"] {
				t.Errorf("testdata/fixtures/%s has no input .yaml", name)
			}
		case strings.HasSuffix(name, ".yaml"):
			c := strings.TrimSuffix(name, ".yaml")
			cases = append(cases, c)
			if !files[c+".golden.yaml"] && !*update {
				t.Errorf("testdata/fixtures/%s has no %s.golden.yaml (go test ./internal/gpus -run TestFixtures -update)", name, c)
			}
		default:
			t.Errorf("testdata/fixtures/%s is not a fixture file (.yaml, .golden.yaml)", name)
		}
	}
	sort.Strings(cases)
	return cases
}

func TestFixtures(t *testing.T) {
	for _, name := range fixtureCases(t) {
		t.Run(name, func(t *testing.T) {
			f := loadFixtureObjects(t, filepath.Join("testdata", "fixtures", name+".yaml"))
			c := newCounter(t, f.source)
			g := golden{Pods: map[string]Count{}, Templates: map[string]Count{}, Claims: map[string]ClaimState{}, Usage: map[string]Usage{}}
			namespaces := map[string]bool{}
			for _, p := range f.pods {
				g.Pods[p.Namespace+"/"+p.Name] = c.Pod("", p)
				namespaces[p.Namespace] = true
			}
			for _, cl := range f.claims {
				g.Claims[cl.Namespace+"/"+cl.Name] = c.ClaimState(cl)
				namespaces[cl.Namespace] = true
			}
			for _, cl := range f.source.templates {
				g.Templates[cl.Namespace+"/"+cl.Name] = c.ClaimTemplate(cl)
			}
			for ns := range namespaces {
				var pods []*corev1.Pod
				for _, p := range f.pods {
					if p.Namespace == ns {
						pods = append(pods, p)
					}
				}
				g.Usage[ns] = c.NamespaceUsage(ns, pods, f.source.ResourceClaims(ns), "")
			}
			got, err := yaml.Marshal(g)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "fixtures", name+".golden.yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the counts (go test ./internal/gpus -run TestFixtures -update, then review the diff):\n%s", path, firstDifference(string(want), string(got)))
			}
		})
	}
}

func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return ""
}

// TestFixtureFacts pins the numbers the fixtures exist for, so that a
// golden file regenerated with a bug in it still fails.
func TestFixtureFacts(t *testing.T) {
	load := func(name string) (fixtureObjects, *Counter) {
		f := loadFixtureObjects(t, filepath.Join("testdata", "fixtures", name+".yaml"))
		return f, newCounter(t, f.source)
	}
	usage := func(f fixtureObjects, c *Counter, ns string) Usage {
		var pods []*corev1.Pod
		for _, p := range f.pods {
			if p.Namespace == ns {
				pods = append(pods, p)
			}
		}
		return c.NamespaceUsage(ns, pods, f.source.ResourceClaims(ns), "")
	}
	podNamed := func(f fixtureObjects, name string) *corev1.Pod {
		i := slices.IndexFunc(f.pods, func(p *corev1.Pod) bool { return p.Name == name })
		return f.pods[i]
	}

	f, c := load("quickstart")
	if u := usage(f, c, "ai-inference"); u.GPUs != 2 || len(u.Claims) != 2 {
		t.Errorf("ai-inference: %+v, want vllm-0's allocated claim and vllm-1's estimate", u)
	}
	if u := usage(f, c, "ai-training"); u.GPUs != 8 {
		t.Errorf("ai-training uses %v GPUs, want the shared 8 once", u.GPUs)
	}
	if got := c.Pod("", podNamed(f, "nemo-worker-1")); got.GPUs != 8 || !got.ClaimsOnly {
		t.Errorf("nemo-worker-1: %+v", got)
	}

	f, c = load("mig")
	if got := c.Pod("", podNamed(f, "mig-test")); got.GPUs != 1 || len(got.MIG) != 3 || len(got.Notes) != 0 {
		t.Errorf("mig-test: %+v, want 1g+1g+2g+3g of one A100 80GB", got)
	}
	if got := c.Pod("", podNamed(f, "notebook")); got.GPUs != 0.428571 || !slices.Equal(got.Profiles, []string{"1g.10gb", "3g.40gb"}) {
		t.Errorf("notebook: %+v, want the 3g.40gb alternative", got)
	}
	if got := c.Pod("", podNamed(f, "either")); got.GPUs != 1 || got.WholeGPUs != 1 {
		t.Errorf("either: %+v, want a whole GPU for ||", got)
	}
	if got := c.Pod("", podNamed(f, "extended-slices")); got.GPUs != 0.285714 || got.DRAOnly {
		t.Errorf("extended-slices: %+v", got)
	}

	f, c = load("extended-resources")
	if u := usage(f, c, "ai-inference"); u.GPUs != 3 || u.FromClaims != 0 {
		t.Errorf("ai-inference: %+v, want 1 + 2 from container resources and no claim", u)
	}
	if got := c.Pod("", podNamed(f, "implicit-class")); got.GPUs != 2 || !got.DRAOnly || got.ClaimsOnly {
		t.Errorf("implicit-class: %+v", got)
	}

	f, c = load("bad-input")
	got := c.Pod("", podNamed(f, "huge"))
	if got.GPUs != 0 || len(got.Problems) != 1 || !strings.Contains(got.Problems[0], "spec.containers[0].resources.limits[nvidia.com/gpu]: nvidia.com/gpu 1e70000 is not a GPU count") {
		t.Errorf("huge: %+v", got)
	}
	got = c.Pod("", podNamed(f, "bad-template"))
	for _, want := range []string{
		"ResourceClaimTemplate ai/gpu-claim: spec.spec.devices.requests[0].exactly.count: -1 is not a count",
		`ResourceClaimTemplate ai/gpu-claim: spec.spec.devices.requests[1].exactly.allocationMode: "Most" is not ExactCount or All`,
		"ResourceClaimTemplate ai/gpu-claim: spec.spec.devices.requests[2].exactly: DeviceClass h200.example.com does not exist",
	} {
		if !slices.Contains(got.Problems, want) && !slices.ContainsFunc(got.Problems, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("bad-template: no problem %q in %q", want, got.Problems)
		}
	}
	if got.GPUs != 2 || len(got.All) != 1 {
		t.Errorf("bad-template: %v GPUs, All %v, want the broken selector's whole GPU and one for All", got.GPUs, got.All)
	}
}
