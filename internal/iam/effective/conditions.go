package effective

import (
	"fmt"
	"sort"
	"strings"
)

// Which condition keys narrow a grant. A condition narrows when Tollgate
// understands its key and the operator requires the key to be present with
// one of the given values:
//
//   - kms:ViaService: the KMS call must come through the named service
//     (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service);
//   - s3:prefix: ListBucket only on the given prefixes;
//   - aws:ResourceTag/<key>: only resources carrying the tag;
//   - aws:PrincipalTag/<session tag> of an EKS Pod Identity session: resolved
//     against the pod's session tags (see resolve).
//
// Operators that also match when the key is absent (...IfExists,
// ForAllValues:..., Null) or that exclude values (...Not...) do not
// narrow: the policy evaluation logic reads a condition with an absent key
// under ...IfExists as true. Unknown keys are treated as not narrowing, and
// the note says so.
var narrowingOperators = map[string]bool{
	"stringequals": true, "stringequalsignorecase": true, "stringlike": true,
	"arnequals": true, "arnlike": true,
	"foranyvalue:stringequals": true, "foranyvalue:stringequalsignorecase": true, "foranyvalue:stringlike": true,
}

func understoodKey(k string) bool {
	k = strings.ToLower(k)
	return k == "kms:viaservice" || k == "s3:prefix" || strings.HasPrefix(k, "aws:resourcetag/")
}

// principalTag returns the tag a key aws:PrincipalTag/<tag> reads.
func principalTag(k string) (string, bool) {
	const p = "aws:principaltag/"
	if len(k) > len(p) && strings.EqualFold(k[:len(p)], p) {
		return k[len(p):], true
	}
	return "", false
}

// conditions flattens a statement's Condition block, each key classified.
func conditions(c map[string]map[string][]string) []Condition {
	out := []Condition{}
	ops := make([]string, 0, len(c))
	for op := range c {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		keys := make([]string, 0, len(c[op]))
		for k := range c[op] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			vals := c[op][k]
			cd := Condition{Operator: op, Key: k, Values: vals}
			positive := narrowingOperators[strings.ToLower(op)]
			switch {
			case !understoodKey(k):
				if _, ok := principalTag(k); !ok {
					cd.Note = fmt.Sprintf("condition key %s is not one Tollgate understands, so it is treated as not narrowing the grant", k)
				}
			case !positive:
				cd.Note = fmt.Sprintf("%s on %s also matches requests without the key or with other values, so it does not narrow the grant", op, k)
			case anyIsStar(vals):
				cd.Note = fmt.Sprintf("%s %s matches any value", op, k)
			default:
				cd.Narrows = true
			}
			out = append(out, cd)
		}
	}
	return out
}

func anyIsStar(vals []string) bool {
	for _, v := range vals {
		if strings.Trim(v, "*") == "" {
			return true
		}
	}
	return false
}

// resolve settles what can be settled for this pod's session: a condition
// on aws:PrincipalTag/<tag> is true or false when the session tags are
// known (EKS Pod Identity sets them, and session tags override the role's
// tags of the same key:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html).
// A false one means the grant never applies to this pod (ok is false); a
// true one does not narrow. Without known session tags the key reads the
// role's tags, which Tollgate does not read: not narrowing, noted.
func resolve(g Grant, sess Session) (Grant, bool) {
	conds := make([]Condition, 0, len(g.Conditions))
	for _, c := range g.Conditions {
		tag, ok := principalTag(c.Key)
		if !ok {
			if c.Narrows {
				g.Conditional = true
			}
			conds = append(conds, c)
			continue
		}
		op := strings.ToLower(c.Operator)
		switch {
		case !sess.TagsKnown:
			c.Note = fmt.Sprintf("%s reads the role's own tags when the session carries none (IRSA, or disableSessionTags); Tollgate does not read them, so it is treated as not narrowing the grant", c.Key)
		case op != "stringequals" && op != "stringlike" && op != "stringequalsignorecase":
			c.Note = fmt.Sprintf("%s on %s is treated as not narrowing the grant", c.Operator, c.Key)
		default:
			v, present := lookupTag(sess.Tags, tag)
			if !present {
				c.Note = fmt.Sprintf("Tollgate does not know the session tag %s, so %s is treated as not narrowing the grant", tag, c.Key)
				break
			}
			if !valueMatches(op, c.Values, v) {
				// The session's tag does not satisfy the condition: the
				// statement never allows this pod anything.
				return g, false
			}
			c.Note = fmt.Sprintf("%s is %q in this pod's session, so the condition holds", c.Key, v)
		}
		conds = append(conds, c)
	}
	g.Conditions = conds
	return g, true
}

// lookupTag finds a session tag; tag keys compare case-insensitively.
func lookupTag(tags map[string]string, key string) (string, bool) {
	for k, v := range tags {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func valueMatches(op string, vals []string, v string) bool {
	for _, want := range vals {
		if strings.Contains(want, "${") {
			// A policy variable: not resolved here; assume it may match.
			return true
		}
		switch op {
		case "stringequals":
			if want == v {
				return true
			}
		case "stringequalsignorecase":
			if strings.EqualFold(want, v) {
				return true
			}
		case "stringlike":
			if match(want, v) {
				return true
			}
		}
	}
	return false
}

// Text is a condition as written: "StringEquals kms:ViaService s3.us-west-2.amazonaws.com".
func (c Condition) Text() string {
	return fmt.Sprintf("%s %s %s", c.Operator, c.Key, strings.Join(c.Values, ", "))
}
