# METADATA
# title: Drift helpers
# description: |-
#   What the drift policies share. An audit reviews each running pod as
#   admission would if the pod were created today, and gives the drift
#   policies the JSON patch the mutators would apply to it:
#   input.drift.patch, each operation with op, path (the JSON pointer),
#   field (the same path written as spec.containers[0].env) and value, in
#   path order; input.drift.containers names the containers by field path
#   (spec.containers[0] is "app"). Admission never sets input.drift: there
#   the mutators have already run, and drift policies report nothing.
package tollgate.drift.lib

# changes are the patch operations whose field matches the regular
# expression pattern.
changes(pattern) := [op |
	some op in input.drift.patch
	regex.match(pattern, op.field)
]

# summary describes operations for a message, in patch order, those that
# change the same field together:
# `container "app": add env: AWS_ROLE_ARN, AWS_REGION; add volumes: aws-iam-token`.
summary(ops) := concat("; ", [_describe(k, run) | some [k, run] in _groups(ops)])

# describe says what one operation changes.
describe(op) := _describe(_key(op), [op])

# path is the field a finding points at: the first operation's, without a
# trailing list index.
path(ops) := regex.replace(ops[0].field, `\[[0-9]+\]$`, "")

_key(op) := [_where(op), op.op, _tail(op)]

# _groups are [key, operations with that key in patch order], ordered by
# where each key first appears. Sorting [key, index, op] puts each key's
# operations together in patch order, so one pass over the sorted list
# finds the groups: n log n, where testing each operation against every
# earlier one is quadratic in the patch (a pod of many containers).
_groups(ops) := [[k, run] | some [_, k, run] in runs] if {
	sorted := sort([[_key(op), i, op] | some i, op in ops])
	starts := [j | some j, _ in sorted; _starts_group(sorted, j)]
	ends := array.concat(array.slice(starts, 1, count(starts)), [count(sorted)])
	runs := sort([[sorted[b][1], sorted[b][0], [x[2] | some x in array.slice(sorted, b, ends[g])]] | some g, b in starts])
}

_starts_group(_, 0)

_starts_group(sorted, j) if sorted[j - 1][0] != sorted[j][0]

_describe(k, run) := concat("", [k[0], k[1], " ", k[2], _values(k, run)])

_values(k, _) := "" if k[1] == "remove"

_values(k, run) := concat("", [": ", concat(", ", [label(v) |
	some op in run
	some v in _items(op.value)
])]) if {
	k[1] != "remove"
}

_container := `^spec\.(initContainers|containers)\[[0-9]+\]`

_where(op) := sprintf("container %q: ", [input.drift.containers[prefix]]) if {
	prefix := regex.find_n(_container, op.field, 1)[0]
	is_string(input.drift.containers[prefix])
} else := ""

# _tail is the field below the pod spec, or below the container when it
# is named, without a trailing list index (an element added to a list
# names the list).
_tail(op) := regex.replace(_below(op), `\[[0-9]+\]$`, "")

_below(op) := regex.replace(op.field, `^spec\.(initContainers|containers)\[[0-9]+\]\.`, "") if {
	_where(op) != ""
} else := trim_prefix(op.field, "spec.")

_items(v) := v if is_array(v)

else := [v]

# label names a value the mutators add: an env var, volume or mount by its
# name, a toleration as key[=value]:effect, a node selector requirement,
# a preStop handler, or the value itself.
label(v) := v.name if {
	is_string(v.name)
} else := sprintf("%s %s (%s)", [v.key, v.operator, concat(", ", v.values)]) if {
	is_string(v.key)
	is_array(v.values)
} else := concat("", [v.key, _eq(v), _effect(v)]) if {
	is_string(v.key)
} else := concat("", ["preStop ", _handler(v.preStop)]) if {
	is_object(v.preStop)
} else := _handler(v) if {
	_is_handler(v)
} else := concat(", ", [sprintf("%s=%v", [k, x]) | some k, x in v]) if {
	is_object(v)
} else := sprintf("%v", [v])

_eq(t) := concat("", ["=", t.value]) if {
	is_string(t.value)
	t.value != ""
} else := ""

_effect(t) := concat("", [":", t.effect]) if {
	is_string(t.effect)
	t.effect != ""
} else := ""

_is_handler(h) if is_object(h.sleep)

_is_handler(h) if is_object(h.exec)

_handler(h) := sprintf("sleep %vs", [h.sleep.seconds]) if {
	is_object(h.sleep)
} else := concat(" ", array.concat(["exec"], h.exec.command)) if {
	is_array(h.exec.command)
} else := sprintf("%v", [h])
