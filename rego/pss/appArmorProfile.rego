# METADATA
# title: AppArmor profile
# description: |-
#   On supported hosts the RuntimeDefault AppArmor profile is applied by
#   default; it must not be overridden or disabled. Restricted fields:
#   spec.securityContext.appArmorProfile.type and the same field of every
#   container (allowed: RuntimeDefault, Localhost, undefined), and the
#   annotations container.apparmor.security.beta.kubernetes.io/* (allowed:
#   runtime/default, localhost/*, empty, undefined).
# custom:
#   id: pss.baseline.appArmorProfile
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Use appArmorProfile.type RuntimeDefault or Localhost, or leave it unset.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: unconfined
#     spec:
#       containers:
#       - name: app
#         image: python:3.12-slim
#         securityContext:
#           appArmorProfile:
#             type: Unconfined
#   pss:
#     level: baseline
#     since: "1.0"
package tollgate.pss.appArmorProfile

import data.tollgate.lib.pss

_allowed_types := {"RuntimeDefault", "Localhost"}

_annotation_prefix := "container.apparmor.security.beta.kubernetes.io/"

default _pod := false

_pod if {
	p := input.pod.spec.securityContext.appArmorProfile
	not object.get(p, "type", "") in {"RuntimeDefault", "Localhost"}
}

_bad_container(c) if {
	p := c.securityContext.appArmorProfile
	not object.get(p, "type", "") in {"RuntimeDefault", "Localhost"}
}

_allowed_annotation("")

_allowed_annotation("runtime/default")

_allowed_annotation(v) if startswith(v, "localhost/")

violation contains _finding if _pod

violation contains _finding if {
	some c in input.pod.containers
	_bad_container(c)
}

violation contains _finding if {
	some k, v in input.pod.metadata.annotations
	startswith(k, _annotation_prefix)
	not _allowed_annotation(v)
}

_finding := {"msg": msg, "path": path} if {
	bad := [[p, c] | some [p, c] in pss.containers; _bad_container(c)]
	annotations := sort([sprintf("%s=%q", [k, v]) |
		some k, v in object.get(input.pod.metadata, "annotations", {})
		startswith(k, _annotation_prefix)
		not _allowed_annotation(v)
	])
	setters := array.concat(
		pss.setter_list(_pod, pss.names(bad)),
		[pss.pluralize("annotation", "annotations", count(annotations)) | count(annotations) > 0],
	)
	pod_types := {object.get(input.pod.spec.securityContext.appArmorProfile, "type", "") | _pod}
	types := pod_types | {object.get(c.securityContext.appArmorProfile, "type", "") | some [_, c] in bad}
	values := array.concat(sort(types), annotations)
	msg := sprintf("%s (%s must not set AppArmor profile type to %s)", [
		pss.pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", count(values)),
		concat(" and ", setters),
		pss.join_quote(values),
	])
	path := _path(bad)
}

_path(_) := "spec.securityContext.appArmorProfile.type" if _pod

_path(bad) := concat("", [bad[0][0], ".securityContext.appArmorProfile.type"]) if {
	not _pod
	count(bad) > 0
}

_path(bad) := "metadata.annotations" if {
	not _pod
	count(bad) == 0
}
