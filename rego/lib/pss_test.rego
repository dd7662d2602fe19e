# Test helpers for the pss checks, and tests of the shared helpers in
# tollgate.lib.pss. The checks' own tests live beside them in
# rego/pss/<check>_test.rego and build their input with the functions here.
package tollgate.lib.pss_test

import data.tollgate.lib.pss

# The newest policy version the checks know (engine.LatestPSSVersion).
latest := 37

_container_fields := ["initContainers", "containers", "ephemeralContainers"]

# pod builds input.pod from pod metadata and a pod spec the way Go does
# (internal/review/input.go podTerm): every init, app and ephemeral container
# in that order, with the field path of each.
pod(metadata, pod_spec) := {
	"metadata": metadata,
	"spec": pod_spec,
	"containers": [c | some f in _container_fields; some c in object.get(pod_spec, f, [])],
	"containerPaths": [sprintf("spec.%s[%d]", [f, i]) | some f in _container_fields; some i, _ in object.get(pod_spec, f, [])],
}

# review_at is the input document of a pod at policy version v1.<version>,
# with metadata (annotations...) and a spec. The checks do not read the level.
review_at(version, metadata, pod_spec) := {
	"pss": {"level": "restricted", "version": version},
	"pod": pod(metadata, pod_spec),
}

# spec_at is review_at for a pod with empty metadata.
spec_at(version, pod_spec) := review_at(version, {}, pod_spec)

# spec is spec_at for the newest policy version.
spec(pod_spec) := spec_at(latest, pod_spec)

# container is a container named name with a securityContext.
container(name, security_context) := {
	"name": name,
	"image": "registry.k8s.io/pause",
	"securityContext": security_context,
}

# all_kinds is a spec with one init container "i", one app container "a"
# and one ephemeral container "e", each with its own securityContext.
all_kinds(init_sc, app_sc, ephemeral_sc) := {
	"initContainers": [container("i", init_sc)],
	"containers": [container("a", app_sc)],
	"ephemeralContainers": [container("e", ephemeral_sc)],
}

# --- tests of the helpers above -------------------------------------------

test_pod_lists_containers_in_go_order if {
	p := pod({}, {
		"ephemeralContainers": [{"name": "e0"}],
		"containers": [{"name": "c0"}, {"name": "c1"}],
		"initContainers": [{"name": "i0"}],
	})
	[c.name | some c in p.containers] == ["i0", "c0", "c1", "e0"]
	p.containerPaths == [
		"spec.initContainers[0]",
		"spec.containers[0]",
		"spec.containers[1]",
		"spec.ephemeralContainers[0]",
	]
}

test_pod_without_containers if {
	p := pod({}, {})
	p.containers == []
	p.containerPaths == []
}

# --- tests of tollgate.lib.pss --------------------------------------------

test_containers_pairs_paths_and_containers if {
	cs := pss.containers with input as spec({"containers": [{"name": "a"}], "initContainers": [{"name": "i"}]})
	cs == [["spec.initContainers[0]", {"name": "i"}], ["spec.containers[0]", {"name": "a"}]]
}

test_join_quote if {
	pss.join_quote([]) == ""
	pss.join_quote(["a"]) == `"a"`
	pss.join_quote(["a", "b"]) == `"a", "b"`
}

# Upstream's joinQuote wraps items in quotes without escaping them.
test_join_quote_does_not_escape_like_upstream if {
	pss.join_quote([`k="v"`]) == `"k="v""`
}

test_pluralize if {
	pss.pluralize("container", "containers", 0) == "containers"
	pss.pluralize("container", "containers", 1) == "container"
	pss.pluralize("container", "containers", 2) == "containers"
}

test_setters if {
	pss.setters(true, []) == "pod"
	pss.setters(false, ["a"]) == `container "a"`
	pss.setters(false, ["a", "b"]) == `containers "a", "b"`
	pss.setters(true, ["a"]) == `pod and container "a"`
}

# unique keeps each element once, where it first occurs, as a membership
# test against the elements before it would.
test_unique if {
	pss.unique([]) == []
	pss.unique(["a"]) == ["a"]
	pss.unique(["b", "a", "b", "c", "a", "a"]) == ["b", "a", "c"]
	pss.unique(["z", "y", "x"]) == ["z", "y", "x"]
	pss.unique([2, "2", 2, 1]) == [2, "2", 1]
}

test_first_path if {
	pss.first_path(true, "securityContext.runAsUser", []) == "spec.securityContext.runAsUser"
	pss.first_path(false, "securityContext.runAsUser", [["spec.containers[1]", {}]]) == "spec.containers[1].securityContext.runAsUser"
}

test_windows_exempt_from_1_25 if {
	windows := {"os": {"name": "windows"}}
	not pss.windows_exempt with input as spec_at(24, windows)
	pss.windows_exempt with input as spec_at(25, windows)
	not pss.windows_exempt with input as spec_at(25, {"os": {"name": "linux"}})
	not pss.windows_exempt with input as spec_at(25, {})
}

test_user_namespace_relaxed_from_1_35 if {
	not pss.user_namespace_relaxed with input as spec_at(34, {"hostUsers": false})
	pss.user_namespace_relaxed with input as spec_at(35, {"hostUsers": false})
	not pss.user_namespace_relaxed with input as spec_at(35, {"hostUsers": true})
	not pss.user_namespace_relaxed with input as spec_at(35, {})
}
