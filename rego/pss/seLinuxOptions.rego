# METADATA
# title: SELinux options
# description: |-
#   Setting a custom SELinux user or role is forbidden, and the SELinux type
#   is limited. Restricted fields: spec.securityContext.seLinuxOptions and the
#   same field of every container. Allowed: type undefined, "",
#   container_t, container_init_t, container_kvm_t, and from v1.31
#   container_engine_t; user and role undefined or "".
# custom:
#   id: pss.baseline.seLinuxOptions
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Remove seLinuxOptions.user and .role, and use one of the allowed container types.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: selinux-super
#     spec:
#       securityContext:
#         seLinuxOptions:
#           type: spc_t
#       containers:
#       - name: app
#         image: python:3.12-slim
#   pss:
#     level: baseline
#     since: "1.0"
package tollgate.pss.seLinuxOptions

import data.tollgate.lib.pss

_types_1_0 := {"", "container_t", "container_init_t", "container_kvm_t"}

_allowed_types := _types_1_0 if input.pss.version < 31

_allowed_types := _types_1_0 | {"container_engine_t"} if input.pss.version >= 31

_invalid(o) if not object.get(o, "type", "") in _allowed_types

_invalid(o) if object.get(o, "user", "") != ""

_invalid(o) if object.get(o, "role", "") != ""

default _pod := false

_pod if _invalid(input.pod.spec.securityContext.seLinuxOptions)

violation contains _finding if _pod

violation contains _finding if {
	some c in input.pod.containers
	_invalid(c.securityContext.seLinuxOptions)
}

_finding := {"msg": msg, "path": path} if {
	bad := [[p, c] | some [p, c] in pss.containers; _invalid(c.securityContext.seLinuxOptions)]
	options := array.concat(
		[o | _pod; o := input.pod.spec.securityContext.seLinuxOptions],
		[c.securityContext.seLinuxOptions | some [_, c] in bad],
	)
	types := sort({t | some o in options; t := object.get(o, "type", ""); not t in _allowed_types})
	problems := array.concat(
		array.concat(
			[sprintf("%s %s", [pss.pluralize("type", "types", count(types)), pss.join_quote(types)]) | count(types) > 0],
			["user may not be set" | _any_set(options, "user")],
		),
		["role may not be set" | _any_set(options, "role")],
	)
	msg := sprintf("seLinuxOptions (%s set forbidden securityContext.seLinuxOptions: %s)", [
		pss.setters(_pod, pss.names(bad)),
		concat("; ", problems),
	])
	path := pss.first_path(_pod, "securityContext.seLinuxOptions", bad)
}

_any_set(options, field) if {
	some o in options
	object.get(o, field, "") != ""
}
