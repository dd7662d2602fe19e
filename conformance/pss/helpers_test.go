// Package pss checks that Tollgate's Pod Security Standards policies give
// the same verdicts as upstream k8s.io/pod-security-admission: on upstream's
// own fixtures for every version, and on generated pods against upstream's
// Go evaluator.
package pss

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/rego"
)

var (
	engineOnce sync.Once
	holder     *engine.Holder
	engineErr  error
	reviewers  sync.Map // level/version -> *review.Reviewer
)

func embeddedEngine(t testing.TB) *engine.Holder {
	t.Helper()
	engineOnce.Do(func() {
		files, err := engine.Load(engine.Source{Name: "embedded", FS: rego.FS, Builtin: true})
		if err != nil {
			engineErr = err
			return
		}
		e, err := engine.New(context.Background(), files, engine.Options{})
		if err != nil {
			engineErr = err
			return
		}
		holder = engine.NewHolder(e)
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return holder
}

// reviewer returns a Reviewer that enforces one level and version with the
// pss Rego alone: without the prefilter by upstream's evaluator, which
// would answer for the pods upstream allows.
func reviewer(t testing.TB, level, version string) *review.Reviewer {
	key := level + "/" + version
	if r, ok := reviewers.Load(key); ok {
		return r.(*review.Reviewer)
	}
	cfg := config.Default()
	cfg.PSS = config.PSS{Level: level, Version: version}
	r, err := review.New(embeddedEngine(t), cfg, state.NewStatic(), review.WithoutPSSPrefilter())
	if err != nil {
		t.Fatal(err)
	}
	reviewers.Store(key, r)
	return r
}

// failedChecks reviews a pod and returns the upstream check ids Tollgate
// found violated (pss.<level>.<id> -> <id>), sorted.
func failedChecks(t testing.TB, r *review.Reviewer, pod *corev1.Pod) []string {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	o, err := kubeobjects.Decode(raw, true)
	if err != nil {
		t.Fatalf("decoding generated pod: %v", err)
	}
	res, err := r.Review(context.Background(), &review.Request{Object: o, Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range res.Violations {
		if !strings.HasPrefix(v.Policy, "pss.") {
			continue
		}
		ids = append(ids, v.Policy[strings.LastIndex(v.Policy, ".")+1:])
	}
	sort.Strings(ids)
	if len(ids) > 0 == res.Allowed {
		t.Fatalf("verdict allowed=%v disagrees with violations %v", res.Allowed, ids)
	}
	return ids
}

func versionName(minor int) string { return fmt.Sprintf("v1.%d", minor) }

func jsonMarshalIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }
