# METADATA
# title: Pod Security Standards helpers
# description: |-
#   Shared views of the pod under evaluation for the pss checks, the version
#   switches, and upstream's message helpers. Checks test input directly on
#   their hot path (a pod that passes costs one scan per check) and use these
#   helpers only to describe a finding.
package tollgate.lib.pss

# containers lists [field path, container] for init, app and ephemeral
# containers, in upstream's visiting order. input.pod.containers and
# input.pod.containerPaths are prepared in Go from the pod spec.
containers := [[input.pod.containerPaths[i], c] | some i, c in input.pod.containers]

# windows_exempt is true for pods that declare spec.os.name=windows; from v1.25
# the Linux-only restricted checks exempt them, as upstream does.
windows_exempt if {
	input.pss.version >= 25
	input.pod.spec.os.name == "windows"
}

# user_namespace_relaxed is true for pods with hostUsers=false; from v1.35
# some checks relax for them, as upstream does.
user_namespace_relaxed if {
	input.pss.version >= 35
	input.pod.spec.hostUsers == false
}

# join_quote renders a list of names the way upstream's joinQuote does.
join_quote(items) := concat(", ", [concat("", [`"`, x, `"`]) | some x in items])

pluralize(singular, _, 1) := singular

pluralize(_, plural, n) := plural if n != 1

# setters renders who set a forbidden value, the way upstream does:
# "pod", "container \"a\"", or "pod and containers \"a\", \"b\"".
setters(pod_bad, names) := concat(" and ", setter_list(pod_bad, names))

setter_list(pod_bad, names) := array.concat(["pod" | pod_bad], container_setter(names))

# container_setter is [] or ["container \"a\""] / ["containers \"a\", \"b\""].
container_setter(names) := [sprintf("%s %s", [pluralize("container", "containers", count(names)), join_quote(names)]) |
	count(names) > 0
]

# first_path is the path of the pod-level field when the pod set it, else the
# path of the first container that did; bad is a list of [path, ...].
first_path(true, field, _) := concat(".", ["spec", field])

first_path(false, field, bad) := concat(".", [bad[0][0], field])

# names returns the container names of a list of [path, container].
names(bad) := [x[1].name | some x in bad]

# unique returns xs without repeated elements, each where it first occurs,
# in O(n log n) (a membership test per element would make it quadratic):
# sorting [element, index] pairs puts the first occurrence of every
# element ahead of its repeats.
unique(xs) := [x | some [_, x] in firsts] if {
	pairs := sort([[x, i] | some i, x in xs])
	firsts := sort([[i, x] | some k, [x, i] in pairs; _first(pairs, k)])
}

_first(_, 0)

_first(pairs, k) if pairs[k - 1][0] != pairs[k][0]

# procMount is shared by the baseline and restricted checks (upstream's
# procMount_1_0).
proc_mount_violation := {"msg": msg, "path": path} if {
	bad := [[p, c] | some [p, c] in containers; c.securityContext.procMount != "Default"]
	msg := sprintf("procMount (%s %s must not set securityContext.procMount to %s)", [
		pluralize("container", "containers", count(bad)),
		join_quote(names(bad)),
		join_quote(sort({c.securityContext.procMount | some [_, c] in bad})),
	])
	path := concat("", [bad[0][0], ".securityContext.procMount"])
}

# Seccomp profile types both levels accept.
valid_seccomp_types := {"RuntimeDefault", "Localhost"}

# seccomp_pod_bad is true when the pod level sets a forbidden seccomp type.
default seccomp_pod_bad := false

seccomp_pod_bad if {
	p := input.pod.spec.securityContext.seccompProfile
	not object.get(p, "type", "") in {"RuntimeDefault", "Localhost"}
}

# seccomp_explicit_violated is true when the pod or a container sets a
# forbidden seccomp type (upstream's explicit check, shared by both levels).
seccomp_explicit_violated if seccomp_pod_bad

seccomp_explicit_violated if {
	some c in input.pod.containers
	p := c.securityContext.seccompProfile
	not object.get(p, "type", "") in {"RuntimeDefault", "Localhost"}
}

seccomp_explicit_violation := {"msg": msg, "path": path} if {
	bad := [[p, c] |
		some [p, c] in containers
		t := object.get(c.securityContext.seccompProfile, "type", "")
		not t in valid_seccomp_types
	]
	pod_types := {object.get(input.pod.spec.securityContext.seccompProfile, "type", "") | seccomp_pod_bad}
	types := pod_types | {object.get(c.securityContext.seccompProfile, "type", "") | some [_, c] in bad}
	msg := sprintf("seccompProfile (%s must not set securityContext.seccompProfile.type to %s)", [
		setters(seccomp_pod_bad, names(bad)),
		join_quote(sort(types)),
	])
	path := first_path(seccomp_pod_bad, "securityContext.seccompProfile.type", bad)
}
