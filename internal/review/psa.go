package review

import (
	"context"

	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// Pod Security Admission's warn and audit modes. A namespace may set each
// mode to its own level: "Namespaces can configure any or all modes, or
// even set a different level for different modes"; warn "will trigger a
// user-facing warning", audit "will trigger the addition of an audit
// annotation to the event recorded in the audit log", and neither refuses
// the pod (kubernetes.io/docs/concepts/security/pod-security-admission,
// "Pod Security Admission labels for namespaces"). The usual rollout is
// enforce: baseline with warn and audit: restricted
// (kubernetes.io/docs/tasks/configure-pod-container/enforce-standards-namespace-labels).
//
// Tollgate maps them onto its own actions: the pss checks of a level above
// the enforced one (the one pss() returns) that warn or audit names are
// evaluated too, at the enforced version, and their findings get the
// action warn or audit (never stronger than the action the policy would
// have). The -version labels of warn and audit are not read.
const (
	LabelPSAWarn  = "pod-security.kubernetes.io/warn"
	LabelPSAAudit = "pod-security.kubernetes.io/audit"
)

// psaMode is a warn or audit level above the enforced one.
type psaMode struct {
	level  string
	action engine.Action
}

func pssRank(level string) int {
	switch level {
	case "baseline":
		return 1
	case "restricted":
		return 2
	}
	return 0 // privileged: no check
}

// psaModes returns the warn and audit modes of a namespace whose level is
// above enforced, warn first. They are read only where PSA's labels are
// (pss.podSecurityLabels, no tollgate.dev/pss-level label): Tollgate's
// label > PSA's labels > the configuration.
func (r *Reviewer) psaModes(ns *corev1.Namespace, enforced string) []psaMode {
	if ns == nil || !r.cfg.PSS.PodSecurityLabels {
		return nil
	}
	if _, ok := ns.Labels[config.LabelPSSLevel]; ok {
		return nil
	}
	var out []psaMode
	for _, m := range []struct {
		label  string
		action engine.Action
	}{{LabelPSAWarn, engine.ActionWarn}, {LabelPSAAudit, engine.ActionAudit}} {
		l := ns.Labels[m.label]
		if pssRank(l) <= pssRank(enforced) {
			continue
		}
		if len(out) > 0 && out[0].level == l {
			continue // warn already covers this level
		}
		out = append(out, psaMode{level: l, action: m.action})
	}
	return out
}

// psaFindings evaluates the pss checks of the warn and audit modes that
// the enforced level does not run, and returns their findings with the
// action each is capped at (by policy id).
func (p *pass) psaFindings(ctx context.Context, e *engine.Engine, subject *kubeobjects.Object, input ast.Value, enforced string, version engine.Version, seen []engine.Finding) ([]engine.Finding, map[string]engine.Action, error) {
	modes := p.r.psaModes(p.ns, enforced)
	if len(modes) == 0 || (p.target != engine.TargetPod && p.target != engine.TargetTemplate) {
		return nil, nil, nil
	}
	have := map[string]bool{}
	for _, f := range seen {
		have[f.Policy.ID] = true
	}
	var out []engine.Finding
	caps := map[string]engine.Action{}
	for _, m := range modes {
		sel := engine.Selector{Target: p.target, Level: m.level, Version: version, OnlyPSS: true}
		if p.r.pssPrefilter && pssClean(subject, p.target, m.level, version) {
			continue
		}
		if p.r.evaluated != nil {
			p.r.evaluated(sel)
		}
		findings, err := e.Evaluate(ctx, sel, input)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range findings {
			if f.Policy.PSS == nil || have[f.Policy.ID] || e.PSSActive(f.Policy, enforced, version) {
				continue
			}
			have[f.Policy.ID] = true
			caps[f.Policy.ID] = m.action
			out = append(out, f)
		}
	}
	return out, caps, nil
}
