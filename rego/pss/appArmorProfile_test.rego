package tollgate.pss.appArmorProfile_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.appArmorProfile

_annotation(name) := concat("", ["container.apparmor.security.beta.kubernetes.io/", name])

test_pass_allowed_types if {
	review := pss_test.spec({
		"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
		"initContainers": [pss_test.container("i", {"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}})],
		"containers": [pss_test.container("a", {"appArmorProfile": {"type": "RuntimeDefault"}}), {"name": "b"}],
	})
	appArmorProfile.violation == set() with input as review
}

test_pass_allowed_annotations if {
	review := pss_test.review_at(
		pss_test.latest, {"annotations": {
			_annotation("a"): "runtime/default",
			_annotation("b"): "localhost/profile",
			_annotation("c"): "",
			"apparmor.security.beta.kubernetes.io/other": "unconfined",
		}},
		{"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]},
	)
	appArmorProfile.violation == set() with input as review
}

test_fail_pod if {
	review := pss_test.spec({
		"securityContext": {"appArmorProfile": {"type": "Unconfined"}},
		"containers": [{"name": "a"}],
	})
	appArmorProfile.violation == {{
		"msg": `forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")`,
		"path": "spec.securityContext.appArmorProfile.type",
	}} with input as review
}

test_fail_app_container if {
	review := pss_test.spec({"containers": [pss_test.container("a", {"appArmorProfile": {"type": "Unconfined"}})]})
	appArmorProfile.violation == {{
		"msg": `forbidden AppArmor profile (container "a" must not set AppArmor profile type to "Unconfined")`,
		"path": "spec.containers[0].securityContext.appArmorProfile.type",
	}} with input as review
}

test_fail_init_container_without_type if {
	review := pss_test.spec(pss_test.all_kinds({"appArmorProfile": {}}, {}, {}))
	appArmorProfile.violation == {{
		"msg": `forbidden AppArmor profile (container "i" must not set AppArmor profile type to "")`,
		"path": "spec.initContainers[0].securityContext.appArmorProfile.type",
	}} with input as review
}

test_fail_ephemeral_container if {
	review := pss_test.spec(pss_test.all_kinds({}, {}, {"appArmorProfile": {"type": "Unconfined"}}))
	appArmorProfile.violation == {{
		"msg": `forbidden AppArmor profile (container "e" must not set AppArmor profile type to "Unconfined")`,
		"path": "spec.ephemeralContainers[0].securityContext.appArmorProfile.type",
	}} with input as review
}

test_fail_pod_and_containers_with_distinct_types if {
	spec := pss_test.all_kinds({"appArmorProfile": {"type": "Unconfined"}}, {"appArmorProfile": {"type": "bogus"}}, {})
	review := pss_test.spec(object.union(spec, {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}))
	appArmorProfile.violation == {{
		"msg": `forbidden AppArmor profiles (pod and containers "i", "a" must not set AppArmor profile type to "Unconfined", "bogus")`,
		"path": "spec.securityContext.appArmorProfile.type",
	}} with input as review
}

test_fail_annotation if {
	review := pss_test.review_at(
		pss_test.latest,
		{"annotations": {_annotation("a"): "unconfined"}},
		{"containers": [{"name": "a"}]},
	)
	[f] := [f | some f in appArmorProfile.violation] with input as review
	f.path == "metadata.annotations"
	startswith(f.msg, `forbidden AppArmor profile (annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/a=`)
}

test_fail_annotation_for_unknown_container if {
	# Upstream checks every annotation with the prefix, not only those that
	# name a container of the pod.
	review := pss_test.review_at(pss_test.latest, {"annotations": {_annotation("gone"): "unconfined"}}, {"containers": [{"name": "a"}]})
	count(appArmorProfile.violation) == 1 with input as review
}

# Upstream: `... to "container.apparmor.security.beta.kubernetes.io/a="unconfined""`
# (the %q-formatted annotation is wrapped by joinQuote without escaping).
test_fail_annotation_message_matches_upstream if {
	review := pss_test.review_at(
		pss_test.latest,
		{"annotations": {_annotation("a"): "unconfined"}},
		{"containers": [{"name": "a"}]},
	)
	appArmorProfile.violation == {{
		"msg": `forbidden AppArmor profile (annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/a="unconfined"")`,
		"path": "metadata.annotations",
	}} with input as review
}

test_fail_container_and_annotations if {
	review := pss_test.review_at(
		pss_test.latest,
		{"annotations": {_annotation("b"): "unconfined", _annotation("a"): "docker/default"}},
		{"containers": [pss_test.container("a", {"appArmorProfile": {"type": "Unconfined"}}), {"name": "b"}]},
	)
	[f] := [f | some f in appArmorProfile.violation] with input as review
	f.path == "spec.containers[0].securityContext.appArmorProfile.type"
	startswith(f.msg, `forbidden AppArmor profiles (container "a" and annotations must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/a=`)
}
