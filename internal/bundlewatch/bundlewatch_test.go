package bundlewatch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

const policy = `# METADATA
# title: Team label
# description: Pods carry a team label.
# custom:
#   id: acme.team-label
#   severity: low
#   action: warn
#   targets: [pod]
#   remediation: Add metadata.labels.team.
package acme.team

violation contains "no team label" if not input.pod.metadata.labels.team
`

func setup(t *testing.T) (string, *Watcher, *record.FakeRecorder) {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "team.rego", policy)
	cfg := config.Default()
	build := func(ctx context.Context) (*engine.Engine, error) { return wiring.NewEngine(ctx, cfg, []string{dir}) }
	e, err := build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(prometheus.NewRegistry())
	rec := record.NewFakeRecorder(10)
	w := &Watcher{
		Dirs: []string{dir}, Build: build, Holder: engine.NewHolder(e), Log: logr.Discard(), Metrics: m,
		Recorder: rec, Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "tollgate-0", Namespace: "tollgate-system"}},
	}
	w.hash = Hash(w.Dirs)
	return dir, w, rec
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func has(e *engine.Engine, id string) bool {
	_, ok := e.Policy(id)
	return ok
}

// TestReloadGoodBrokenRollback: a good update is swapped in, a broken one is
// refused with the file and line while the last good engine keeps serving,
// and fixing it (the rollback) is picked up again.
func TestReloadGoodBrokenRollback(t *testing.T) {
	dir, w, rec := setup(t)
	ctx := context.Background()
	before := w.Holder.Load()

	// Good update: a second policy.
	write(t, dir, "owner.rego", strings.NewReplacer("acme.team-label", "acme.owner-label", "acme.team", "acme.owner", "team", "owner").Replace(policy))
	w.Check(ctx)
	good := w.Holder.Load()
	if good == before || !has(good, "acme.owner-label") {
		t.Fatal("a good update was not swapped in")
	}
	if ev := <-rec.Events; !strings.Contains(ev, "BundleReloaded") {
		t.Errorf("event %q", ev)
	}

	// Broken update: a syntax error.
	write(t, dir, "owner.rego", "package acme.owner\n\nviolation contains x if {\n")
	w.Check(ctx)
	if w.Holder.Load() != good {
		t.Fatal("a broken update replaced the last good engine")
	}
	if got := testutil.ToFloat64(w.Metrics.LastSuccess); got != 0 {
		t.Errorf("last reload success gauge %v after a broken update", got)
	}
	if got := testutil.ToFloat64(w.Metrics.Reloads.WithLabelValues("error")); got != 1 {
		t.Errorf("error reloads %v", got)
	}
	ev := <-rec.Events
	if !strings.Contains(ev, "BundleRejected") || !strings.Contains(ev, "owner.rego:") {
		t.Errorf("the rejection event does not name the file and line: %q", ev)
	}

	// Rollback: the previous content is back.
	if err := os.Remove(filepath.Join(dir, "owner.rego")); err != nil {
		t.Fatal(err)
	}
	w.Check(ctx)
	if has(w.Holder.Load(), "acme.owner-label") || !has(w.Holder.Load(), "acme.team-label") || testutil.ToFloat64(w.Metrics.LastSuccess) != 1 {
		t.Error("the rollback was not picked up")
	}

	// Nothing changed: no rebuild.
	same := w.Holder.Load()
	w.Check(ctx)
	if w.Holder.Load() != same {
		t.Error("an unchanged bundle was rebuilt")
	}
}

// TestWatchPicksUpChanges runs the watch loop: a file written into the
// directory is compiled in without a call to Check.
func TestWatchPicksUpChanges(t *testing.T) {
	dir, w, _ := setup(t)
	w.Poll = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Start(ctx) }()
	time.Sleep(200 * time.Millisecond)
	write(t, dir, "owner.rego", strings.NewReplacer("acme.team-label", "acme.owner-label", "acme.team", "acme.owner", "team", "owner").Replace(policy))
	deadline := time.Now().Add(10 * time.Second)
	for !has(w.Holder.Load(), "acme.owner-label") {
		if time.Now().After(deadline) {
			t.Fatal("the watcher did not reload within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRejectedUpdatesKeepTheLastGoodBundle: the updates of issue 17 that
// used to load and then fail every review, or call out at admission, are
// refused; the engine in use keeps judging, and the rejection says why.
func TestRejectedUpdatesKeepTheLastGoodBundle(t *testing.T) {
	header := strings.SplitAfter(policy, "package acme.team\n")[0]
	for _, tc := range []struct {
		name, body, reason string
		want               []string
	}{
		{
			name:   "complete violation rule",
			body:   `violation := "no team label" if not input.pod.metadata.labels.team`,
			reason: "compile",
			want:   []string{"team.rego:12: violation is a complete rule", "policy acme.team-label"},
		},
		{
			name:   "http.send",
			body:   "violation contains \"x\" if {\n\tinput.pod\n\thttp.send({\"method\": \"GET\", \"url\": \"http://attacker.example\"}).status_code == 200\n}",
			reason: "compile",
			want:   []string{"team.rego:14", "http.send is not available to Tollgate policies"},
		},
		{
			name:   "fails on every pod",
			body:   "_x := 1 if input.pod\n\n_x := 2 if input.pod\n\nviolation contains \"x\" if _x == 1",
			reason: "canary",
			want:   []string{"policy acme.team-label fails on the canary", "eval_conflict_error"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, w, rec := setup(t)
			ctx := context.Background()
			good := w.Holder.Load()
			write(t, dir, "team.rego", header+"\n"+tc.body+"\n")
			w.Check(ctx)
			if w.Holder.Load() != good {
				t.Fatal("a rejected update replaced the last good engine")
			}
			if got := testutil.ToFloat64(w.Metrics.Rejections.WithLabelValues(tc.reason)); got != 1 {
				t.Errorf("rejections{reason=%q} = %v, want 1", tc.reason, got)
			}
			ev := <-rec.Events
			for _, want := range append(tc.want, "BundleRejected", "("+tc.reason+")", "keeping the previous policies") {
				if !strings.Contains(ev, want) {
					t.Errorf("the rejection event %q does not say %q", ev, want)
				}
			}
			// The last good engine still judges pods.
			in := ast.MustParseTerm(`{"pod": {"metadata": {"labels": {}}, "spec": {"containers": []}, "containers": [], "containerPaths": []}, "pss": {"level": "privileged", "version": 37}}`).Value
			fs, err := w.Holder.Load().Evaluate(ctx, engine.Selector{Target: engine.TargetPod, Level: "privileged", Version: 37}, in)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range fs {
				found = found || (f.Policy.ID == "acme.team-label" && f.Err == nil)
			}
			if !found {
				t.Errorf("the last good engine no longer reports acme.team-label: %+v", fs)
			}
		})
	}
}
