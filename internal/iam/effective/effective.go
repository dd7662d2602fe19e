// Package effective computes the effective grants of an IAM role: what its
// identity policies allow, intersected with its permissions boundary and
// the session policy of the session the pod gets, minus what explicit Deny
// statements remove, each grant with the conditions it still carries. The
// iam policies (rego/iam) judge these grants, not the documents; this
// package is the one place that evaluates them.
//
// It follows AWS's policy evaluation logic for a role in one account
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
// and .../reference_policies_evaluation-logic_policy-eval-denyallow.html):
// "an explicit deny in any policy overrides an allow"; the permissions
// boundary and session policies are limits, so a grant is effective only
// where an identity-policy Allow, a boundary Allow and a session-policy
// Allow all match; "the resulting session's permissions are the
// intersection of the role's identity-based policy and the session
// policies" (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_assumerole.html).
//
// What is modelled, and what is not, is listed in docs/iam.md. In short:
// patterns are compared as IAM wildcards (* and ?), actions case-
// insensitively; a Deny removes the part of a grant it covers when that
// part can be written as patterns (Deny + NotResource narrows a grant on
// "*" to the resources it does not deny, Deny + NotAction to the actions);
// a Deny with conditions is not subtracted (it may not apply), only noted;
// resource policies, SCPs and RCPs are not read.
package effective

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/iam"
)

// Item is one action or resource pattern of a grant, in the shape the Rego
// helpers read (rego/iam/lib): the pattern to match (lower case for
// actions), the text to show, its escaped glob, for NotAction and
// NotResource the excluded patterns (the pattern is then "*"), and for
// actions the service prefix.
type Item struct {
	Pattern     string   `json:"pattern"`
	Text        string   `json:"text"`
	Glob        string   `json:"glob"`
	Except      []string `json:"except"`
	ExceptGlobs []string `json:"except_globs"`
	Service     string   `json:"service,omitempty"`
	WildService bool     `json:"wild_service"`
	// exceptText is Except as written (actions are lower case in Except).
	exceptText []string
}

// Condition is one condition key of a statement that still applies to a
// grant, and what Tollgate makes of it.
type Condition struct {
	Operator string   `json:"operator"`
	Key      string   `json:"key"`
	Values   []string `json:"values"`
	// Narrows is true when the condition is one Tollgate understands and
	// it limits the grant (kms:ViaService, s3:prefix, aws:ResourceTag/...
	// under a positive operator).
	Narrows bool `json:"narrows"`
	// Note says why a condition does not narrow, or what it resolved to.
	Note string `json:"note,omitempty"`
}

// Grant is one effective (action pattern, resource pattern) pair.
type Grant struct {
	// PI and Index locate the identity-policy statement that allows it.
	PI    int  `json:"pi"`
	Index int  `json:"index"`
	Act   Item `json:"action"`
	Res   Item `json:"resource"`
	// Statement is "<action> on <resource>" of the Allow statement, before
	// any limit.
	Statement string `json:"statement"`
	// Limited is true when the boundary, the session policy or a Deny
	// narrowed the statement's grant; LimitedBy says by what.
	Limited    bool        `json:"limited"`
	LimitedBy  []string    `json:"limited_by"`
	Conditions []Condition `json:"conditions"`
	// Conditional is true when some condition narrows the grant.
	Conditional bool `json:"conditional"`
	// DenyNotes name conditional Deny statements that may remove part of
	// the grant; they are not subtracted.
	DenyNotes []string `json:"deny_notes"`
}

// Session is what Tollgate knows of the session the pod's credentials
// carry.
type Session struct {
	// Policy is the session policy (an EKS Pod Identity association's
	// policy), nil when there is none.
	Policy *iam.Document
	// Tags are the session tags EKS Pod Identity adds
	// (kubernetes-namespace, kubernetes-service-account, ...); TagsKnown
	// is false when there are none Tollgate can rely on (IRSA, or
	// disableSessionTags), since aws:PrincipalTag then reads the role's own
	// tags, which Tollgate does not read.
	Tags      map[string]string
	TagsKnown bool
}

// Limits named in LimitedBy.
const (
	ByBoundary = "the permissions boundary"
	BySession  = "the session policy"
	ByDeny     = "an explicit Deny"
)

// Evaluate returns the effective grants of a role's identity policies,
// limited by its boundary (nil when none) and the session, in a stable
// order.
func Evaluate(policies []iam.Policy, boundary *iam.Policy, sess Session) []Grant {
	var gs []Grant
	for pi, p := range policies {
		if p.Document == nil {
			continue
		}
		for i, s := range p.Document.Statement {
			if s.Effect != "Allow" {
				continue
			}
			conds := conditions(s.Condition)
			for _, a := range actions(s) {
				for _, r := range resources(s) {
					gs = append(gs, Grant{
						PI: pi, Index: i, Act: a, Res: r,
						Statement:  a.Text + " on " + r.Text,
						Conditions: conds, LimitedBy: []string{}, DenyNotes: []string{},
					})
				}
			}
		}
	}
	var denySources []*iam.Document
	for _, p := range policies {
		denySources = append(denySources, p.Document)
	}
	if boundary != nil && boundary.Document != nil {
		gs = limit(gs, boundary.Document, ByBoundary)
		denySources = append(denySources, boundary.Document)
	}
	if sess.Policy != nil {
		gs = limit(gs, sess.Policy, BySession)
		denySources = append(denySources, sess.Policy)
	}
	for _, d := range denySources {
		if d == nil {
			continue
		}
		for _, s := range d.Statement {
			if s.Effect == "Deny" {
				gs = subtract(gs, s)
			}
		}
	}
	out := gs[:0]
	for _, g := range gs {
		if g, ok := resolve(g, sess); ok {
			out = append(out, g)
		}
	}
	return dedupe(out)
}

// limit intersects each grant with the Allow statements of a limiting
// policy (a boundary or session policy): a grant no Allow overlaps is
// dropped; one that overlaps several becomes one grant per overlap.
func limit(gs []Grant, d *iam.Document, by string) []Grant {
	var out []Grant
	for _, g := range gs {
		for _, s := range d.Statement {
			if s.Effect != "Allow" {
				continue
			}
			for _, la := range actions(s) {
				a, ok := meet(g.Act, la)
				if !ok {
					continue
				}
				for _, lr := range resources(s) {
					r, ok := meet(g.Res, lr)
					if !ok {
						continue
					}
					n := g.with(a, r, by, a.Text != g.Act.Text || r.Text != g.Res.Text)
					n.Conditions = append(append([]Condition{}, g.Conditions...), conditions(s.Condition)...)
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// subtract removes what a Deny statement covers from each grant.
func subtract(gs []Grant, s iam.Statement) []Grant {
	das, drs := actions(s), resources(s)
	var out []Grant
	for _, g := range gs {
		if len(s.Condition) > 0 {
			if overlapsItems(das, g.Act) && overlapsItems(drs, g.Res) {
				g.DenyNotes = append(append([]string{}, g.DenyNotes...), fmt.Sprintf("a Deny of %s on %s with conditions may remove part of it (not subtracted)", itemsText(das), itemsText(drs)))
			}
			out = append(out, g)
			continue
		}
		out = append(out, cut(g, das, drs)...)
	}
	return out
}

// cut returns what is left of g after an unconditional Deny of das on drs.
// What a NotResource (NotAction) item leaves is outside that item, so the
// rest is cut by the remaining items only.
func cut(g Grant, das, drs []Item) []Grant {
	for ai, da := range das {
		for ri, dr := range drs {
			ca, cr := covers(da, g.Act), covers(dr, g.Res)
			switch {
			case ca && cr:
				return nil
			case ca && len(dr.Except) > 0:
				// Deny + NotResource: only the excepted resources are left.
				var out []Grant
				for _, e := range dr.Except {
					if r, ok := meet(g.Res, resourceItem(e, e, nil)); ok {
						out = append(out, cut(g.with(g.Act, r, ByDeny, r.Text != g.Res.Text), das[ai+1:], drs)...)
					}
				}
				return out
			case cr && len(da.Except) > 0:
				// Deny + NotAction: only the excepted actions are left.
				var out []Grant
				for k, e := range da.Except {
					if a, ok := meet(g.Act, actionItem(e, da.exceptText[k], nil)); ok {
						out = append(out, cut(g.with(a, g.Res, ByDeny, a.Text != g.Act.Text), das, drs[ri+1:])...)
					}
				}
				return out
			}
		}
	}
	return []Grant{g}
}

func (g Grant) with(a, r Item, by string, limited bool) Grant {
	n := g
	n.Act, n.Res = a, r
	n.LimitedBy = append([]string{}, g.LimitedBy...)
	n.DenyNotes = append([]string{}, g.DenyNotes...)
	if limited {
		n.Limited = true
		if !contains(n.LimitedBy, by) {
			n.LimitedBy = append(n.LimitedBy, by)
		}
	}
	return n
}

func overlapsItems(items []Item, x Item) bool {
	for _, i := range items {
		if _, ok := meet(i, x); ok {
			return true
		}
	}
	return false
}

func itemsText(items []Item) string {
	t := make([]string, len(items))
	for i, it := range items {
		t[i] = it.Text
	}
	return strings.Join(t, ", ")
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func dedupe(gs []Grant) []Grant {
	seen := map[string]bool{}
	out := []Grant{}
	for _, g := range gs {
		k := fmt.Sprintf("%d/%d/%s/%s/%v/%v", g.PI, g.Index, g.Act.Text, g.Res.Text, g.LimitedBy, g.Conditions)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, g)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].PI != out[j].PI {
			return out[i].PI < out[j].PI
		}
		return out[i].Index < out[j].Index
	})
	return out
}

// actions returns the action items of a statement.
func actions(s iam.Statement) []Item {
	if len(s.NotAction) > 0 {
		ex := make([]string, len(s.NotAction))
		for i, a := range s.NotAction {
			ex[i] = strings.ToLower(a)
		}
		it := actionItem("*", "every action but "+strings.Join(s.NotAction, ", "), ex)
		it.exceptText = s.NotAction
		return []Item{it}
	}
	out := make([]Item, len(s.Action))
	for i, a := range s.Action {
		out[i] = actionItem(strings.ToLower(a), a, nil)
	}
	return out
}

// resources returns the resource items of a statement. A statement with
// neither Resource nor NotResource (a session policy may omit it) is read
// as Resource "*".
func resources(s iam.Statement) []Item {
	if len(s.NotResource) > 0 {
		return []Item{resourceItem("*", "every resource but "+strings.Join(s.NotResource, ", "), s.NotResource)}
	}
	if len(s.Resource) == 0 {
		return []Item{resourceItem("*", "*", nil)}
	}
	out := make([]Item, len(s.Resource))
	for i, r := range s.Resource {
		out[i] = resourceItem(r, r, nil)
	}
	return out
}

func actionItem(pattern, text string, except []string) Item {
	it := resourceItem(pattern, text, except)
	it.Service = strings.SplitN(pattern, ":", 2)[0]
	it.WildService = strings.ContainsAny(it.Service, "*?")
	return it
}

func resourceItem(pattern, text string, except []string) Item {
	it := Item{Pattern: pattern, Text: text, Glob: escapeGlob(pattern), Except: []string{}, ExceptGlobs: []string{}}
	for _, e := range except {
		it.Except = append(it.Except, e)
		it.ExceptGlobs = append(it.ExceptGlobs, escapeGlob(e))
	}
	return it
}

// escapeGlob escapes what OPA's glob.match reads as syntax but IAM holds
// literally (policy variables such as ${aws:username}); only * and ? are
// wildcards in IAM.
var globEscaper = strings.NewReplacer(`\`, `\\`, `{`, `\{`, `}`, `\}`, `[`, `\[`, `]`, `\]`)

func escapeGlob(p string) string { return globEscaper.Replace(p) }

// match reports whether IAM pattern p (with * and ?) matches s; s's own
// wildcards are literal characters.
func match(p, s string) bool {
	// Iterative wildcard matching with backtracking on the last *.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi, mark = star+1, mark+1
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// covers reports whether x matches every name y can match.
func covers(x, y Item) bool {
	switch {
	case len(x.Except) == 0:
		return match(x.Pattern, y.Pattern)
	case len(y.Except) == 0:
		for _, e := range x.Except {
			if overlap(e, y.Pattern) {
				return false
			}
		}
		return true
	}
	// Both exclude: x covers y when everything x excludes y excludes too.
	for _, e := range x.Except {
		found := false
		for _, f := range y.Except {
			if match(f, e) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// overlap approximates "some name matches both patterns".
func overlap(a, b string) bool { return match(a, b) || match(b, a) }

// meet is the narrower of two items when one covers the other, else the
// first when they may overlap (kept whole: better a finding too many than
// one too few); ok is false when they cannot overlap.
func meet(a, b Item) (Item, bool) {
	switch {
	case covers(b, a):
		return a, true
	case covers(a, b):
		return b, true
	case len(a.Except) == 0 && len(b.Except) == 0 && !overlap(a.Pattern, b.Pattern):
		return Item{}, false
	case len(a.Except) > 0 && len(b.Except) == 0:
		// b is inside "*" unless an exception covers it.
		for _, e := range a.Except {
			if match(e, b.Pattern) {
				return Item{}, false
			}
		}
		return b, true
	case len(b.Except) > 0 && len(a.Except) == 0:
		for _, e := range b.Except {
			if match(e, a.Pattern) {
				return Item{}, false
			}
		}
		return a, true
	}
	return a, true
}
