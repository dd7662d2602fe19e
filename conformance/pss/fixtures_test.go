package pss

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// upstreamTestdata is test/testdata of the k8s.io/pod-security-admission
// module this project depends on (the fixtures ship in its module zip).
func upstreamTestdata(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/pod-security-admission").Output()
	if err != nil {
		t.Fatalf("locating k8s.io/pod-security-admission: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "test", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("upstream fixtures: %v", err)
	}
	return dir
}

// TestUpstreamFixtures evaluates every upstream fixture of every version at
// its level: pass fixtures must be admitted and fail fixtures denied.
func TestUpstreamFixtures(t *testing.T) {
	root := upstreamTestdata(t)
	type tally struct{ agreed, total int }
	results := map[string]*tally{}
	for _, level := range []string{"baseline", "restricted"} {
		versions, err := os.ReadDir(filepath.Join(root, level))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range versions {
			version := v.Name()
			r := reviewer(t, level, version)
			for _, verdict := range []string{"pass", "fail"} {
				dir := filepath.Join(root, level, version, verdict)
				files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					key := version
					if results[key] == nil {
						results[key] = &tally{}
					}
					results[key].total++
					allowed, ids := reviewFixture(t, r, f)
					if allowed != (verdict == "pass") {
						t.Errorf("%s %s %s/%s: Tollgate allowed=%v (failed checks %v), upstream expects %s",
							level, version, verdict, filepath.Base(f), allowed, ids, verdict)
						continue
					}
					results[key].agreed++
				}
			}
		}
	}
	var keys []string
	for k := range results {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return minorOf(keys[i]) < minorOf(keys[j]) })
	var agreed, total int
	var line []string
	for _, k := range keys {
		agreed += results[k].agreed
		total += results[k].total
		line = append(line, k+" "+strconv.Itoa(results[k].agreed)+"/"+strconv.Itoa(results[k].total))
	}
	t.Logf("fixtures agreed per version (baseline+restricted): %s", strings.Join(line, ", "))
	t.Logf("fixtures agreed in all: %d/%d", agreed, total)
	if total < 4000 {
		t.Errorf("only %d fixtures found; the upstream testdata looks incomplete", total)
	}
}

func reviewFixture(t *testing.T, r *review.Reviewer, file string) (bool, []string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	o, err := kubeobjects.Decode(raw, true)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	res, err := r.Review(t.Context(), &review.Request{Object: o, Operation: "CREATE"})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var ids []string
	for _, v := range res.Violations {
		ids = append(ids, v.Policy)
	}
	return res.Allowed, ids
}

func minorOf(v string) int {
	n := 0
	for _, c := range strings.TrimPrefix(v, "v1.") {
		n = n*10 + int(c-'0')
	}
	return n
}
