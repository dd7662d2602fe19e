package mutators

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/podidentity"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

var update = flag.Bool("update", false, "rewrite the golden .out.yaml files from the mutators' output")

// Golden fixtures: testdata/<dir>/<case>.in.yaml holds a Pod, then the
// state it is mutated against (Namespace, ServiceAccount, NodePools);
// <case>.config.yaml, if present, is a mutators configuration section
// over the defaults; <case>.out.yaml is the expected pod, with the
// mutators' warnings as leading comments. Each directory runs the mutators
// below: one for each mutator's own directory, all of them for chain.
var fixtureDirs = map[string][]string{
	"gpu_tolerations": {"gpu-tolerations"},
	"credentials":     {"credentials"},
	"prestop_drain":   {"prestop-drain"},
	"mig":             {"mig"},
	"chain":           nil, // every mutator, as the chain runs them
}

type fixture struct {
	dir, name string
	raw       []byte // the pod as written, as JSON
	pod       *kubeobjects.Object
	state     *state.Static
	cfg       config.Mutators
}

func (f *fixture) path(suffix string) string {
	return filepath.Join("testdata", f.dir, f.name+suffix)
}

// fixtureCases lists a directory's cases, failing on files that do not
// form a case: an .out.yaml or .config.yaml without its .in.yaml, an
// .in.yaml without its .out.yaml (unless updating), or anything else.
func fixtureCases(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", dir))
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
		case strings.HasSuffix(name, ".in.yaml"):
			c := strings.TrimSuffix(name, ".in.yaml")
			cases = append(cases, c)
			if !files[c+".out.yaml"] && !*update {
				t.Errorf("testdata/%s/%s has no %s.out.yaml (go test ./mutators -run TestGolden -update)", dir, name, c)
			}
		case strings.HasSuffix(name, ".out.yaml"):
			if !files[strings.TrimSuffix(name, ".out.yaml")+".in.yaml"] {
				t.Errorf("testdata/%s/%s has no .in.yaml", dir, name)
			}
		case strings.HasSuffix(name, ".config.yaml"):
			if !files[strings.TrimSuffix(name, ".config.yaml")+".in.yaml"] {
				t.Errorf("testdata/%s/%s has no .in.yaml", dir, name)
			}
		default:
			t.Errorf("testdata/%s/%s is not a fixture file (.in.yaml, .out.yaml, .config.yaml)", dir, name)
		}
	}
	sort.Strings(cases)
	return cases
}

// allFixtures loads every fixture of every directory.
func allFixtures(t *testing.T) []*fixture {
	t.Helper()
	dirs := make([]string, 0, len(fixtureDirs))
	for d := range fixtureDirs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var out []*fixture
	for _, d := range dirs {
		for _, c := range fixtureCases(t, d) {
			out = append(out, loadFixture(t, d, c))
		}
	}
	return out
}

func loadFixture(t testing.TB, dir, name string) *fixture {
	t.Helper()
	f := &fixture{dir: dir, name: name, state: state.NewStatic(), cfg: config.Default().Mutators}
	b, err := os.ReadFile(f.path(".in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs, errs := manifest.Parse(f.path(".in.yaml"), b, true)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	if len(docs) == 0 || docs[0].Object.GroupKind() != kubeobjects.Pod {
		t.Fatalf("%s: the first document must be a Pod", f.path(".in.yaml"))
	}
	f.pod, f.raw = docs[0].Object, docs[0].Object.Raw
	for _, d := range docs[1:] {
		f.state.Add(d.Object)
	}
	if c, err := os.ReadFile(f.path(".config.yaml")); err == nil {
		if err := yaml.UnmarshalStrict(c, &f.cfg); err != nil {
			t.Fatalf("%s: %v", f.path(".config.yaml"), err)
		}
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) chain(t testing.TB) *Chain {
	t.Helper()
	cat, err := gpucatalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	var assoc podidentity.Associations
	if len(f.cfg.Credentials.Associations) > 0 {
		assoc = podidentity.Static(f.cfg.Credentials.Associations)
	}
	c, err := NewChain(Options{Config: f.cfg, Catalog: cat, Associations: assoc})
	if err != nil {
		t.Fatalf("%s: %v", f.path(""), err)
	}
	return c
}

// mutatorsFor returns the mutators a fixture directory runs.
func mutatorsFor(dir string) []Mutator {
	names := fixtureDirs[dir]
	if names == nil {
		return Mutators()
	}
	var out []Mutator
	for _, m := range Mutators() {
		if slices.Contains(names, m.Name) {
			out = append(out, m)
		}
	}
	return out
}

// result is a pod after mutation.
type result struct {
	pod      *corev1.Pod
	raw      []byte // the mutated pod as JSON, the patch applied to the input
	patch    []jsonpatch.Operation
	warnings []string
}

// mutate decodes raw, runs ms until they settle, and diffs the result
// against raw as admission does.
func mutate(t testing.TB, c *Chain, raw []byte, ns string, st state.Reader, ms []Mutator) result {
	t.Helper()
	var pod corev1.Pod
	if err := json.Unmarshal(raw, &pod); err != nil {
		t.Fatal(err)
	}
	if pod.Namespace == "" {
		pod.Namespace = ns
	}
	before, err := json.Marshal(&pod)
	if err != nil {
		t.Fatal(err)
	}
	nsObj, _ := st.Namespace(context.Background(), pod.Namespace)
	env, err := c.Env(context.Background(), &pod, nsObj, st)
	if err != nil {
		t.Fatal(err)
	}
	sub := &Chain{cfg: c.cfg, catalog: c.catalog, associations: c.associations, minor: c.minor, mutators: ms}
	if err := sub.Run(&pod, env); err != nil {
		t.Fatal(err)
	}
	after, err := json.Marshal(&pod)
	if err != nil {
		t.Fatal(err)
	}
	patch, mutated, err := review.PatchAgainstRaw(raw, before, after)
	if err != nil {
		t.Fatal(err)
	}
	return result{pod: &pod, raw: mutated, patch: patch, warnings: env.Warnings()}
}

func (f *fixture) mutate(t testing.TB, ms []Mutator) result {
	t.Helper()
	return mutate(t, f.chain(t), f.raw, f.pod.Namespace, f.state, ms)
}

// render is the .out.yaml text of a result.
func render(t testing.TB, r result) string {
	t.Helper()
	y, err := yaml.JSONToYAML(r.raw)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, w := range r.warnings {
		b.WriteString("# warning: " + w + "\n")
	}
	b.Write(y)
	return b.String()
}
