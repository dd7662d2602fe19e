# METADATA
# title: NodePool disruption settings are valid
# description: |-
#   A NodePool's disruption budgets must be valid: schedule a cron
#   expression of five fields (minute hour day-of-month month day-of-week,
#   with names such as mon or jan) or a descriptor such as @daily, set
#   together with duration (hours and minutes: 10h, 1h30m), and nodes a
#   count or a percentage up to 100%. consolidateAfter and expireAfter must
#   be durations (30s, 1h, 720h) or Never. An invalid budget that passes the
#   API server's pattern checks (minute 75, a duration in seconds) is
#   refused here rather than failing inside Karpenter.
# custom:
#   id: nodepool.disruption
#   severity: medium
#   action: deny
#   targets: [nodepool]
#   remediation: 'Fix the field named in the message: a five-field cron schedule such as "0 9 * * 1-5" with a duration such as 10h, nodes such as "0", "2" or "20%", and durations such as 30s, 1h or Never.'
#   example: |
#     apiVersion: karpenter.sh/v1
#     kind: NodePool
#     metadata:
#       name: gpu-inference-stable
#     spec:
#       template:
#         spec:
#           requirements:
#           - key: karpenter.sh/capacity-type
#             operator: In
#             values: ["on-demand"]
#           nodeClassRef:
#             group: karpenter.k8s.aws
#             kind: EC2NodeClass
#             name: default
#       disruption:
#         budgets:
#         - nodes: "0"
#           schedule: "0 9 * * 1-8"
#           duration: 10h
package tollgate.nodepool.disruption

_disruption := object.get(input.object, ["spec", "disruption"], {})

_budgets := object.get(_disruption, "budgets", [])

violation contains {"msg": msg, "path": path} if {
	some i, b in _budgets
	nodes := b.nodes
	not _valid_nodes(nodes)
	path := sprintf("spec.disruption.budgets[%d].nodes", [i])
	msg := sprintf("%s %s is not a node count or a percentage from 0%% to 100%%", [path, _quoted(nodes)])
}

violation contains {"msg": msg, "path": path} if {
	some i, b in _budgets
	b.schedule
	not b.duration
	path := sprintf("spec.disruption.budgets[%d]", [i])
	msg := sprintf("%s sets schedule without duration: a scheduled budget needs both, to say how long it stays active", [path])
}

violation contains {"msg": msg, "path": path} if {
	some i, b in _budgets
	b.duration
	not b.schedule
	path := sprintf("spec.disruption.budgets[%d]", [i])
	msg := sprintf("%s sets duration without schedule: a scheduled budget needs both, to say when it starts", [path])
}

violation contains {"msg": msg, "path": path} if {
	some i, b in _budgets
	s := b.schedule
	problems := cron_problems(s)
	count(problems) > 0
	path := sprintf("spec.disruption.budgets[%d].schedule", [i])
	msg := sprintf("%s %s is not a valid cron schedule: %s", [path, _quoted(s), problems[0]])
}

violation contains {"msg": msg, "path": path} if {
	some i, b in _budgets
	d := b.duration
	not _matches(`^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$`, d)
	path := sprintf("spec.disruption.budgets[%d].duration", [i])
	msg := sprintf("%s %s is not a duration in hours and minutes such as 10h, 30m or 1h30m", [path, _quoted(d)])
}

violation contains {"msg": msg, "path": "spec.disruption.consolidateAfter"} if {
	d := _disruption.consolidateAfter
	not _duration_or_never(d)
	msg := sprintf("spec.disruption.consolidateAfter %s is not a duration such as 30s, 10m or 1h, or Never", [_quoted(d)])
}

violation contains {"msg": msg, "path": "spec.template.spec.expireAfter"} if {
	d := input.object.spec.template.spec.expireAfter
	not _duration_or_never(d)
	msg := sprintf("spec.template.spec.expireAfter %s is not a duration such as 720h, or Never", [_quoted(d)])
}

_valid_nodes(n) if _matches(`^((100|[0-9]{1,2})%|[0-9]+)$`, n)

_duration_or_never(d) if _matches(`^(([0-9]+(s|m|h))+|Never)$`, d)

_matches(pattern, s) if {
	is_string(s)
	regex.match(pattern, s)
}

_quoted(s) := sprintf("%q", [s]) if is_string(s)

_quoted(s) := sprintf("%v (not a string)", [s]) if not is_string(s)

# --- cron, as Karpenter parses budget schedules (robfig/cron's standard parser)

_descriptors := {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

_months := {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}

_days := {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

_fields := [
	{"name": "minute", "min": 0, "max": 59, "names": {}},
	{"name": "hour", "min": 0, "max": 23, "names": {}},
	{"name": "day-of-month", "min": 1, "max": 31, "names": {}},
	{"name": "month", "min": 1, "max": 12, "names": _months},
	{"name": "day-of-week", "min": 0, "max": 6, "names": _days},
]

_part := `^(?:(\*|\?)|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:/([0-9]+))?$`

# cron_problems lists what is wrong with a schedule, in field order; empty
# when it is valid.
cron_problems(s) := [] if s in _descriptors

cron_problems(s) := [sprintf("it has %d fields, want 5 (minute hour day-of-month month day-of-week) or a descriptor such as @daily", [count(fs)])] if {
	not s in _descriptors
	fs := _split(s)
	count(fs) != 5
}

cron_problems(s) := [p |
	some i, text in fs
	some part in split(text, ",")
	some p in _part_problems(part, _fields[i])
] if {
	not s in _descriptors
	fs := _split(s)
	count(fs) == 5
}

_split(s) := regex.split(`\s+`, trim_space(s))

_part_problems(part, f) := [sprintf("%s field %q is not a value, a range or a step", [f.name, part])] if not regex.match(_part, part)

_part_problems(part, f) := array.concat(
	[p | some tok in [m[2], m[3]]; tok != ""; p := _value_problem(tok, f)],
	array.concat(_range_problem(m, f), _step_problem(m, f)),
) if {
	m := regex.find_all_string_submatch_n(_part, part, 1)[0]
}

_value(tok, _) := to_number(tok) if regex.match(`^[0-9]+$`, tok)

_value(tok, f) := f.names[lower(tok)] if not regex.match(`^[0-9]+$`, tok)

_value_problem(tok, f) := sprintf("%s %q is not a number or a name", [f.name, tok]) if not _value(tok, f)

_value_problem(tok, f) := sprintf("%s %s is out of range %d-%d", [f.name, tok, f.min, f.max]) if {
	v := _value(tok, f)
	not _in_range(v, f)
}

_in_range(v, f) if {
	v >= f.min
	v <= f.max
}

_range_problem(m, f) := [sprintf("%s range %s-%s ends before it starts", [f.name, m[2], m[3]])] if _backwards(m, f)

_range_problem(m, f) := [] if not _backwards(m, f)

_backwards(m, f) if _value(m[2], f) > _value(m[3], f)

_step_problem(m, f) := [sprintf("%s step /%s is not allowed", [f.name, m[4]])] if _zero_step(m)

_step_problem(m, _) := [] if not _zero_step(m)

_zero_step(m) if {
	m[4] != ""
	to_number(m[4]) == 0
}
