package gather_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// The package's tests share one -update flag for their golden files;
// whichever file registers it first owns it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata")
	}
}

// updating reports whether -update was given.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// seedVerdicts is the verdict each Karpenter NodePool of the design's seed
// document (the platform teams' pools, as they wrote them) should get from
// the nodepool policies
// (testdata/seed-nodepools, one file each), with the default configuration,
// and why. The exact findings are in the golden files.
var seedVerdicts = map[string]struct {
	allowed  bool
	policies []string // policy:action of each finding, sorted
	why      string
}{
	"01-auto-mode-gpu-inference-pool": {false, []string{"nodepool.gpu:deny"},
		"a GPU pool without the nvidia.com/gpu taint, so CPU pods can take its GPU nodes; its five instance types in two families are enough for Spot. Its nodeClassRef is self-managed Karpenter's EC2NodeClass with karpenter.k8s.aws keys, consistent for nodepool.nodeclass, though the document means Auto Mode's built-in NodeClass (eks.amazonaws.com, NodeClass, default): which controller runs is not in the NodePool"},
	"02-gpu-inference-pool": {true, nil,
		"tainted, bounded at 100 GPUs, three instance types for its Spot capacity: the document's reference pool"},
	"03-gpu-inference-stable": {true, nil,
		"only disruption settings, all valid (a weekday zero-node window with cron and duration); the API server refuses it first for lacking spec.template"},
	"04-gpu-mig-pool": {false, []string{"nodepool.gpu:deny"},
		"MIG-capable p4d (A100 40GB) as a MIG pool needs, but no limit on nvidia.com/gpu; the document's A100 80GB comment is wrong, which only a MIG configuration label would reveal"},
	"05-gpu-spot-inference": {true, nil,
		"Spot only, across four instance types, tainted for GPUs and for Spot, bounded at 32 GPUs"},
	"06-gpu-scheduled-pool": {false, []string{"nodepool.gpu:deny", "nodepool.spot-diversity:warn"},
		"GPU instance types without the GPU taint; Spot allowed on only two instance types; its three scheduled budgets are valid"},
	"07-gpu-consolidation-pool": {true, nil,
		"only valid consolidation settings; the API server refuses it first for lacking spec.template"},
	"08-gpu-small-models": {false, []string{"nodepool.gpu:deny", "nodepool.gpu:deny"},
		"g5 GPU instances with neither the GPU taint nor a GPU limit (on-demand only, so one family is fine)"},
	"09-gpu-large-models": {false, []string{"nodepool.gpu:deny", "nodepool.gpu:deny"},
		"p4d and p5 with neither the GPU taint nor a GPU limit: the most expensive pool of the document is unbounded"},
	"10-gpu-training-pool": {false, []string{"nodepool.training:deny"},
		"on-demand, tainted and bounded, but its blanket nodes: \"0\" budget has no reasons, so it applies to Empty too and the pool's idle p5 nodes are never reclaimed; expireAfter is the default 720h, longer than the 168h run bound"},
	"11-gpu-experiment-pool": {true, []string{"nodepool.spot-diversity:warn"},
		"Spot on only two instance types (p4d.24xlarge, g5.48xlarge): admitted with a warning; experiments are not training pools"},
}

func TestSeedNodePools(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	e, err := wiring.NewEngine(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := wiring.NewReviewer(engine.NewHolder(e), cfg, state.NewStatic(), wiring.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := filepath.Glob(filepath.Join("testdata", "seed-nodepools", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			want, ok := seedVerdicts[name]
			if !ok {
				t.Fatalf("%s has no entry in seedVerdicts: add its verdict and why", path)
			}
			docs, err := manifest.Load([]string{path}, manifest.Options{Strict: true})
			if err != nil || len(docs) != 1 {
				t.Fatalf("%s: %v (want one NodePool)", path, err)
			}
			res, err := r.Review(ctx, &review.Request{Object: docs[0].Object, Operation: "CREATE"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range res.Violations {
				got = append(got, v.Policy+":"+string(v.Action))
			}
			slices.Sort(got)
			if res.Allowed != want.allowed || !slices.Equal(got, want.policies) {
				t.Errorf("allowed %v with %v; want %v with %v, because %s", res.Allowed, got, want.allowed, want.policies, want.why)
			}
			golden(t, filepath.Join("testdata", "seed-nodepools", name+".golden.json"), res)
		})
	}
	for name := range seedVerdicts {
		if !seen[name] {
			t.Errorf("seedVerdicts has %s but testdata/seed-nodepools/%s.yaml is missing", name, name)
		}
	}
	goldens, _ := filepath.Glob(filepath.Join("testdata", "seed-nodepools", "*.golden.json"))
	for _, g := range goldens {
		if name := strings.TrimSuffix(filepath.Base(g), ".golden.json"); !seen[name] {
			t.Errorf("%s has no input %s.yaml: remove it", g, name)
		}
	}
}

// golden compares a review result with its golden file (go test -update
// rewrites it).
func golden(t *testing.T, path string, res *review.Result) {
	t.Helper()
	got, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if updating() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/gather -run TestSeedNodePools -update writes it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (go test ./internal/gather -run TestSeedNodePools -update to accept):\n%s", path, got)
	}
}
