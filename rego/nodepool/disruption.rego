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

# Schedules are parsed in Go by the cron parser Karpenter uses, and
# durations as Go durations (input.state.disruption, internal/gather); the
# rules below report what they found.

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
	problem := input.state.disruption.budgets[i].schedule
	path := sprintf("spec.disruption.budgets[%d].schedule", [i])
	msg := sprintf("%s %s is not a valid cron schedule: %s", [path, _quoted(b.schedule), problem])
}

violation contains {"msg": msg, "path": path} if {
	some i, b in _budgets
	problem := input.state.disruption.budgets[i].duration
	path := sprintf("spec.disruption.budgets[%d].duration", [i])
	msg := sprintf("%s %s %s", [path, _quoted(b.duration), problem])
}

violation contains {"msg": msg, "path": "spec.disruption.consolidateAfter"} if {
	problem := input.state.disruption.consolidateAfter
	msg := sprintf("spec.disruption.consolidateAfter %s %s", [_quoted(_disruption.consolidateAfter), problem])
}

violation contains {"msg": msg, "path": "spec.template.spec.expireAfter"} if {
	problem := input.state.disruption.expireAfter
	msg := sprintf("spec.template.spec.expireAfter %s %s", [_quoted(input.object.spec.template.spec.expireAfter), problem])
}

violation contains {"msg": msg, "path": path} if {
	some i, b in _budgets
	not is_string(b.schedule)
	b.schedule != null
	path := sprintf("spec.disruption.budgets[%d].schedule", [i])
	msg := sprintf("%s %s is not a valid cron schedule", [path, _quoted(b.schedule)])
}

_valid_nodes(n) if _matches(`^((100|[0-9]{1,2})%|[0-9]+)$`, n)

_matches(pattern, s) if {
	is_string(s)
	regex.match(pattern, s)
}

_quoted(s) := sprintf("%q", [s]) if is_string(s)

_quoted(s) := sprintf("%v (not a string)", [s]) if not is_string(s)
