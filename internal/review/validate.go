package review

import (
	"context"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// validate is step 4: the verdict on subject (the object as it will be
// admitted). It applies the API server's defaults, builds the input
// document with the gatherers' state, evaluates the policies of the
// target, PSS level and version once, and resolves each finding's action.
func (p *pass) validate(ctx context.Context, subject *kubeobjects.Object) (*Result, error) {
	res := newResult(subject)
	e := p.r.engines.Load()
	level, version := p.r.pss(p.ns)
	sel := engine.Selector{Target: p.target, Level: level, Version: version}
	kubeobjects.Default(subject)
	sel.NoPSS = p.r.pssPrefilter && pssClean(subject, p.target, level, version)
	if empty, err := e.Empty(ctx, sel); err != nil || empty {
		return res, err
	}
	input, g, err := p.input(ctx, subject)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, g.Warnings...)
	if p.r.evaluated != nil {
		p.r.evaluated(sel)
	}
	findings, err := e.Evaluate(ctx, sel, input)
	if err != nil {
		return nil, err
	}
	psa, caps, err := p.psaFindings(ctx, e, subject, input, level, version, findings)
	if err != nil {
		return nil, err
	}
	findings = append(findings, psa...)
	p.psaCaps = caps
	excepts, err := p.exceptionsFor(ctx, subject, findings)
	if err != nil {
		return nil, err
	}
	p.record(res, findings, subject, p.target, excepts)
	return res, nil
}
