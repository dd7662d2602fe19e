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
summary(ops) := concat("; ", [_group(ops, k) | some k in _keys(ops)])

# describe says what one operation changes.
describe(op) := _group([op], _key(op))

# path is the field a finding points at: the first operation's, without a
# trailing list index.
path(ops) := regex.replace(ops[0].field, `\[[0-9]+\]$`, "")

_key(op) := [_where(op), op.op, _tail(op)]

# _keys are the distinct keys of ops, in the order they first appear.
_keys(ops) := [k |
	some i, op in ops
	k := _key(op)
	not _earlier(ops, i, k)
]

_earlier(ops, i, k) if {
	some j, other in ops
	j < i
	_key(other) == k
}

_group(ops, k) := concat("", [k[0], k[1], " ", k[2], _values(ops, k)])

_values(_, k) := "" if k[1] == "remove"

_values(ops, k) := concat("", [": ", concat(", ", [label(v) |
	some op in ops
	_key(op) == k
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
