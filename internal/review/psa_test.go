package review_test

import (
	"context"
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

// psaPod breaks baseline (privileged), baseline's seccomp check
// (Unconfined, which restricted's seccomp check replaces) and restricted
// (runAsNonRoot, allowPrivilegeEscalation, capabilities).
const psaPod = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: NS}
spec:
  securityContext: {seccompProfile: {type: Unconfined}}
  containers: [{name: c, image: "i:1", securityContext: {privileged: true}}]
`

// psaCompliantBaseline breaks only restricted checks.
const psaCompliantBaseline = `apiVersion: v1
kind: Pod
metadata: {name: q, namespace: NS}
spec:
  containers: [{name: c, image: "i:1"}]
`

func psaReviewer(t *testing.T, podSecurityLabels bool, labels map[string]string) *review.Reviewer {
	t.Helper()
	cfg := config.Default()
	cfg.PSS.PodSecurityLabels = podSecurityLabels
	e, err := wiring.NewEngine(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  labels: {")
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + ": " + labels[k])
	}
	b.WriteString("}\n")
	docs, errs := manifest.Parse("ns.yaml", []byte(b.String()), true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st := state.NewStatic()
	st.Add(docs[0].Object)
	r, err := wiring.NewReviewer(engine.NewHolder(e), cfg, st, wiring.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPSAWarnAuditLabels: pod-security.kubernetes.io/warn and audit map to
// Tollgate's warn and audit actions for the pss checks above the enforced
// level; tollgate.dev/pss-level and pss.podSecurityLabels: false turn
// them off.
func TestPSAWarnAuditLabels(t *testing.T) {
	const (
		enforce = "pod-security.kubernetes.io/enforce"
		warn    = "pod-security.kubernetes.io/warn"
		audit   = "pod-security.kubernetes.io/audit"
	)
	type want map[string]engine.Action // pss policy id -> action
	restrictedAs := func(a engine.Action) want {
		return want{
			"pss.restricted.allowPrivilegeEscalation":  a,
			"pss.restricted.capabilities_restricted":   a,
			"pss.restricted.runAsNonRoot":              a,
			"pss.restricted.seccompProfile_restricted": a,
		}
	}
	merge := func(ws ...want) want {
		out := want{}
		for _, w := range ws {
			for k, v := range w {
				out[k] = v
			}
		}
		return out
	}
	baselineDeny := want{"pss.baseline.privileged": engine.ActionDeny, "pss.baseline.seccompProfile_baseline": engine.ActionDeny}
	for _, tc := range []struct {
		name        string
		psaLabels   bool
		labels      map[string]string
		pod         string
		wantAllowed bool
		want        want
	}{
		{"enforce baseline, warn restricted", true, map[string]string{enforce: "baseline", warn: "restricted"}, psaPod, false,
			merge(baselineDeny, restrictedAs(engine.ActionWarn))},
		{"enforce baseline, audit restricted", true, map[string]string{enforce: "baseline", audit: "restricted"}, psaPod, false,
			merge(baselineDeny, restrictedAs(engine.ActionAudit))},
		{"warn wins over audit at one level", true, map[string]string{enforce: "baseline", warn: "restricted", audit: "restricted"}, psaCompliantBaseline, true,
			want{"pss.restricted.allowPrivilegeEscalation": engine.ActionWarn, "pss.restricted.capabilities_restricted": engine.ActionWarn, "pss.restricted.runAsNonRoot": engine.ActionWarn, "pss.restricted.seccompProfile_restricted": engine.ActionWarn}},
		{"enforce privileged, warn baseline, audit restricted", true, map[string]string{enforce: "privileged", warn: "baseline", audit: "restricted"}, psaPod, true,
			merge(want{"pss.baseline.privileged": engine.ActionWarn, "pss.baseline.seccompProfile_baseline": engine.ActionWarn}, restrictedAs(engine.ActionAudit))},
		{"warn below enforce changes nothing", true, map[string]string{enforce: "restricted", warn: "baseline"}, psaCompliantBaseline, false,
			restrictedAs(engine.ActionDeny)},
		{"warn privileged changes nothing", true, map[string]string{enforce: "baseline", warn: "privileged"}, psaCompliantBaseline, true, want{}},
		{"enforce from the configuration (restricted)", true, map[string]string{warn: "restricted"}, psaCompliantBaseline, false,
			restrictedAs(engine.ActionDeny)},
		{"tollgate.dev/pss-level wins", true, map[string]string{"tollgate.dev/pss-level": "baseline", warn: "restricted"}, psaCompliantBaseline, true, want{}},
		{"podSecurityLabels off", false, map[string]string{enforce: "privileged", warn: "restricted"}, psaCompliantBaseline, false,
			restrictedAs(engine.ActionDeny)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := psaReviewer(t, tc.psaLabels, tc.labels)
			res := review1(t, r, strings.ReplaceAll(tc.pod, "NS", "ns"))
			got := want{}
			for _, v := range res.Violations {
				if strings.HasPrefix(v.Policy, "pss.") {
					got[v.Policy] = v.Action
				}
			}
			if res.Allowed != tc.wantAllowed || !mapsEqual(got, tc.want) {
				t.Fatalf("allowed %v, pss findings %v; want %v, %v", res.Allowed, got, tc.wantAllowed, tc.want)
			}
			for id, a := range tc.want {
				warned := slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.HasPrefix(w, id+": ") })
				_, audited := res.AuditAnnotations[id]
				if warned != (a == engine.ActionWarn) || audited != (a == engine.ActionAudit) {
					t.Errorf("%s (%s): warned %v, audited %v", id, a, warned, audited)
				}
			}
		})
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
