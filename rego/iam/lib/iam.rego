# METADATA
# title: IAM policy helpers
# description: |-
#   The effective grants of the identity policies in input.state.iam (the
#   pod's role, or an ACK Role or Policy): every action and resource pattern
#   of an Allow statement, limited by the permissions boundary and minus what
#   unconditional Deny statements remove; and the helpers that name a grant
#   in messages. Documents are normalised in Go (internal/iam): Action,
#   NotAction, Resource and NotResource are lists, Condition an object.
package tollgate.iam.lib

# An item is one action or resource pattern of a statement: the pattern to
# match ("pattern", lower case for actions, which IAM compares
# case-insensitively), the text to show ("text"), its escaped glob ("glob"),
# for NotAction / NotResource statements the excluded patterns ("except",
# "except_globs"; the pattern is then "*"), and for actions the service
# prefix ("service", "wild_service" when it holds a wildcard).

state := input.state.iam

params := data.tollgate.params.iam

# all_grants are the effective grants of input.state.iam, computed in Go
# (internal/iam/effective, the one place that evaluates IAM documents):
# every action and resource pattern an Allow statement grants, intersected
# with the permissions boundary and the session policy, minus what
# unconditional Deny statements remove (Deny + NotResource narrows a grant
# on "*" to the resources it spares). Each grant: {"pi", "index", "action",
# "resource", "statement", "limited", "limited_by", "conditions",
# "conditional", "deny_notes"}; pi and index locate the Allow statement
# (policy(g), statement(g)).
all_grants contains g if {
	state.status == "ok"
	some g in object.get(state, "grants", [])
}

# grants are the unconditional ones, the ones the wildcard rules judge; a
# grant narrowed by a condition Tollgate understands (kms:ViaService,
# s3:prefix, aws:ResourceTag/...) is in conditional_grants instead and is
# reported, at most, as iam.conditional-wildcard.
grants contains g if {
	some g in all_grants
	not g.conditional
}

conditional_grants contains g if {
	some g in all_grants
	g.conditional
}

# actions returns the action items of a statement.
actions(s) := [_action_item(lower(a), a, []) | some a in s.Action] if count(s.NotAction) == 0

actions(s) := [_action_item(
	"*",
	sprintf("every action but %s", [concat(", ", s.NotAction)]),
	[lower(a) | some a in s.NotAction],
)] if count(s.NotAction) > 0

# Items carry their glob and service prefix so that the rules test each
# grant cheaply.
_action_item(pattern, text, except) := {
	"pattern": pattern, "text": text, "glob": escape_glob(pattern),
	"except": except, "except_globs": [escape_glob(e) | some e in except],
	"service": service, "wild_service": regex.match(`[*?]`, service),
} if service := split(pattern, ":")[0]

# resources returns the resource items of a statement.
resources(s) := [_resource_item(r, r, []) | some r in s.Resource] if count(s.NotResource) == 0

resources(s) := [_resource_item(
	"*",
	sprintf("every resource but %s", [concat(", ", s.NotResource)]),
	s.NotResource,
)] if count(s.NotResource) > 0

_resource_item(pattern, text, except) := {
	"pattern": pattern, "text": text, "glob": escape_glob(pattern),
	"except": except, "except_globs": [escape_glob(e) | some e in except],
}

# escape_glob escapes the characters IAM patterns hold literally but glob
# reads as syntax (policy variables such as ${aws:username}); only * and ?
# are wildcards in IAM.
escape_glob(p) := p if not regex.match(`[\\{}\[\]]`, p)

escape_glob(p) := strings.replace_n({"\\": "\\\\", "{": "\\{", "}": "\\}", "[": "\\[", "]": "\\]"}, p) if regex.match(`[\\{}\[\]]`, p)

# covers(x, y) is true when item x matches every name item y can match.
covers(x, y) if {
	count(x.except) == 0
	glob.match(x.glob, null, y.pattern)
}

covers(x, y) if {
	count(x.except) > 0
	count(y.except) == 0
	not _overlaps_any(x.except, y.pattern)
}

_overlaps_any(patterns, p) if {
	some q in patterns
	overlap(q, p)
}

# overlap(a, b) approximates "some name matches both patterns".
overlap(a, b) if glob.match(escape_glob(a), null, b)

overlap(a, b) if glob.match(escape_glob(b), null, a)

# may(item, name) is true when item can match the name (an action in lower
# case, or a resource ARN).
may(item, name) if {
	glob.match(item.glob, null, name)
	not _excepted(item, name)
}

_excepted(item, name) if {
	some e in item.except_globs
	glob.match(e, null, name)
}

# service_may(act, svc) is a cheap test that an action item can name an
# action of the service svc ("kms"): its service prefix is svc or holds a
# wildcard ("*", "*:*", a NotAction statement).
service_may(act, svc) if act.service == svc

service_may(act, _) if act.wild_service

# unscoped(res, probe, name_regex) is true when a resource item names every
# resource of a type rather than chosen ones: it is "*" or a NotResource,
# it matches probe (a made-up ARN of that type in an account of nobody's),
# or its name part starts with a wildcard (name_regex).
unscoped(res, _, _) if count(res.except) > 0

unscoped(res, probe, _) if glob.match(res.glob, null, probe)

unscoped(res, _, name_regex) if regex.match(name_regex, res.pattern)

# Probes and name patterns per resource type.
s3_probes := ["arn:aws:s3:::tollgate-any-bucket", "arn:aws:s3:::tollgate-any-bucket/any-key"]

s3_name_regex := `^arn:[^:]*:s3:::[*?]`

any_bucket(res) if {
	some probe in s3_probes
	unscoped(res, probe, s3_name_regex)
}

# subject names the role the documents belong to, when there is one.
default subject := ""

subject := sprintf("role %s: ", [state.role]) if {
	state.role != ""
	object.get(state, "via", "") == ""
}

subject := sprintf("role %s (via %s): ", [state.role, state.via]) if {
	state.role != ""
	object.get(state, "via", "") != ""
}

policy_label(p) := sprintf("managed policy %s", [p.arn]) if object.get(p, "arn", "") != ""

policy_label(p) := sprintf("inline policy %q", [p.name]) if {
	object.get(p, "arn", "") == ""
	p.kind == "inline"
}

policy_label(p) := sprintf("policy %q", [p.name]) if {
	object.get(p, "arn", "") == ""
	p.kind != "inline"
}

statement_label(i, s) := sprintf("statement %d (Sid %q)", [i, s.Sid]) if object.get(s, "Sid", "") != ""

statement_label(i, s) := sprintf("statement %d", [i]) if object.get(s, "Sid", "") == ""

policy(g) := state.policies[g.pi]

statement(g) := state.policies[g.pi].document.Statement[g.index]

# finding builds a violation for a grant: "<role>: <policy>, <statement>:
# allows <action> on <resource>", what limited it, the rule's detail, and
# what Tollgate could not take into account (conditions it does not
# understand, conditional denies).
finding(g, detail) := {
	"msg": sprintf("%s%s, %s: allows %s%s; %s%s", [
		subject, policy_label(policy(g)), statement_label(g.index, statement(g)),
		_granted(g), _limited_note(g), detail, notes(g),
	]),
	"path": object.get(policy(g), "path", ""),
}

_granted(g) := sprintf("%s on %s", [g.action.text, g.resource.text]) if not g.limited

_granted(g) := sprintf("%s, effective: %s on %s", [g.statement, g.action.text, g.resource.text]) if g.limited

_limited_note(g) := sprintf(" (as limited by %s)", [concat(" and ", g.limited_by)]) if g.limited

_limited_note(g) := "" if not g.limited

# notes are the conditions that were kept but do not narrow the grant, and
# the conditional Deny statements that were not subtracted.
notes(g) := concat("", [sprintf(" (%s)", [n]) | some n in _notes(g)])

_notes(g) := array.concat(
	[c.note | some c in g.conditions; object.get(c, "note", "") != ""],
	g.deny_notes,
)

# condition_text names the conditions that narrow a grant.
condition_text(g) := concat(" and ", [sprintf("%s %s %s", [c.operator, c.key, concat(", ", c.values)]) |
	some c in g.conditions
	c.narrows
])
