package review

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/exception"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// record adds findings to a result with their resolved actions.
func (p *pass) record(res *Result, findings []engine.Finding, subject *kubeobjects.Object, target engine.Target, excepts func(*engine.Policy) *exception.Exception) {
	r, ns, caps := p.r, p.ns, p.psaCaps
	exempted, deprecated := r.exemptedByAnnotation(p.req, subject)
	if deprecated && !slices.Contains(res.Warnings, ExemptAnnotationDeprecated) {
		res.Warnings = append(res.Warnings, ExemptAnnotationDeprecated)
	}
	_, templatePath := subject.Template()
	for _, f := range findings {
		p := f.Policy
		// A policy that failed to evaluate is enforced at its action on error.
		act := f.Action(r.action(p, ns, target))
		if c, ok := caps[p.ID]; ok {
			act = engine.Weaker(act, c)
		}
		if act == engine.ActionOff {
			continue
		}
		if exempted(p) {
			res.addAudit("exempted."+p.ID, f.Message)
			continue
		}
		path := f.Path
		if templatePath != "" && path != "" {
			path = templatePath + "." + path
		}
		if e := excepts(p); e != nil {
			res.except(Violation{Policy: p.ID, Severity: p.Severity, Action: act, Message: f.Message, Path: path}, e)
			continue
		}
		res.Violations = append(res.Violations, Violation{Policy: p.ID, Severity: p.Severity, Action: act, Message: f.Message, Path: path})
		switch act {
		case engine.ActionDeny:
			res.Allowed = false
		case engine.ActionWarn:
			res.Warnings = append(res.Warnings, p.ID+": "+f.Message)
		case engine.ActionAudit:
			res.addAudit(p.ID, f.Message)
		}
	}
}

func (res *Result) addAudit(key, msg string) {
	if res.AuditAnnotations == nil {
		res.AuditAnnotations = map[string]string{}
	}
	if prev, ok := res.AuditAnnotations[key]; ok {
		msg = prev + "; " + msg
	}
	res.AuditAnnotations[key] = msg
}

// pss returns the Pod Security Standards level and version for a namespace:
// its tollgate.dev/pss-level and tollgate.dev/pss-version labels, else
// (with pss.podSecurityLabels) Pod Security Admission's
// pod-security.kubernetes.io/enforce and enforce-version labels, else the
// configuration. Invalid labels fall back to the next source. privileged
// means no pss check.
func (r *Reviewer) pss(ns *corev1.Namespace) (string, engine.Version) {
	level, version := r.pssLevel, r.pssVer
	if ns == nil {
		return level, version
	}
	switch l := ns.Labels[config.LabelPSSLevel]; l {
	case "baseline", "restricted", "privileged":
		level = l
	default:
		// The labels PSA reads, with the same values
		// (kubernetes.io/docs/concepts/security/pod-security-admission,
		// "Pod Security Admission labels for namespaces": <MODE> is
		// privileged, baseline or restricted; <MODE>-version is v1.N or
		// latest).
		if !r.cfg.PSS.PodSecurityLabels {
			break
		}
		switch l := ns.Labels[config.LabelPSAEnforce]; l {
		case "baseline", "restricted", "privileged":
			level = l
			if v, ok := ns.Labels[config.LabelPSAEnforceVersion]; ok {
				if pv, err := engine.ParseVersion(v); err == nil {
					version = pv
				}
			}
		}
	}
	if v, ok := ns.Labels[config.LabelPSSVersion]; ok {
		if pv, err := engine.ParseVersion(v); err == nil {
			version = pv
		}
	}
	return level, version
}

// action resolves a policy's action: the namespace label
// tollgate.dev/<family>, else the configuration for the policy id, else for
// its family, else the METADATA default; templates are capped at
// templateAction, since their pods are checked again when created.
func (r *Reviewer) action(p *engine.Policy, ns *corev1.Namespace, target engine.Target) engine.Action {
	act := p.Action
	if a, ok := r.cfg.Actions[p.Family]; ok {
		act = a
	}
	if a, ok := r.cfg.Actions[p.ID]; ok {
		act = a
	}
	if ns != nil {
		if l, ok := ns.Labels[config.LabelPrefix+p.Family]; ok {
			if a, err := engine.ParseAction(l); err == nil {
				act = a
			}
		}
	}
	if target == engine.TargetTemplate {
		act = engine.Weaker(act, r.cfg.TemplateAction)
	}
	return act
}

// exemptedByAnnotation returns a predicate for the policies an object's
// tollgate.dev/exempt annotation skips: a comma-separated list of families
// and policy ids, honoured only for users the configuration allows.
func (r *Reviewer) exemptedByAnnotation(req *Request, o *kubeobjects.Object) (_ func(*engine.Policy) bool, warned bool) {
	none := func(*engine.Policy) bool { return false }
	var ann map[string]string
	if p := o.Pod(); p != nil {
		ann = p.Annotations
	} else if t, _ := o.Template(); t != nil {
		ann = t.Annotations
	}
	v, ok := ann[config.AnnotationExempt]
	if !ok || !r.cfg.MayUseExemptAnnotation(req.User.Username, req.User.Groups) {
		return none, false
	}
	// Deprecated: honoured for this release only, with a warning on every
	// object it exempts; PolicyExceptions replace it (docs/exceptions.md).
	warned = true
	names := map[string]bool{}
	for _, s := range strings.Split(v, ",") {
		names[strings.TrimSpace(s)] = true
	}
	return func(p *engine.Policy) bool { return names[p.ID] || names[p.Family] }, warned
}

// ExemptAnnotationDeprecated is the warning on objects the deprecated
// tollgate.dev/exempt annotation exempts.
const ExemptAnnotationDeprecated = config.AnnotationExempt + " is deprecated and will be removed in the next release: use a PolicyException (docs/exceptions.md)"
