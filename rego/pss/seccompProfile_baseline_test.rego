package tollgate.pss.seccompProfile_baseline_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.seccompProfile_baseline

_seccomp(t) := {"seccompProfile": {"type": t}}

_pod_key := "seccomp.security.alpha.kubernetes.io/pod"

_container_key(name) := concat("", ["container.seccomp.security.alpha.kubernetes.io/", name])

# --- v1.19+: securityContext.seccompProfile ---------------------------------

test_pass_allowed_types_or_unset if {
	review := pss_test.spec(object.union(
		pss_test.all_kinds(_seccomp("Localhost"), {}, _seccomp("RuntimeDefault")),
		{"securityContext": _seccomp("RuntimeDefault")},
	))
	seccompProfile_baseline.violation == set() with input as review
}

test_pass_nothing_set if {
	seccompProfile_baseline.violation == set() with input as pss_test.spec({"containers": [{"name": "a"}]})
}

test_fail_pod if {
	review := pss_test.spec({"securityContext": _seccomp("Unconfined"), "containers": [{"name": "a"}]})
	seccompProfile_baseline.violation == {{
		"msg": `seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")`,
		"path": "spec.securityContext.seccompProfile.type",
	}} with input as review
}

test_fail_app_container if {
	review := pss_test.spec({"securityContext": _seccomp("RuntimeDefault"), "containers": [pss_test.container("a", _seccomp("Unconfined"))]})
	seccompProfile_baseline.violation == {{
		"msg": `seccompProfile (container "a" must not set securityContext.seccompProfile.type to "Unconfined")`,
		"path": "spec.containers[0].securityContext.seccompProfile.type",
	}} with input as review
}

test_fail_init_container_without_type if {
	review := pss_test.spec(pss_test.all_kinds({"seccompProfile": {}}, {}, {}))
	seccompProfile_baseline.violation == {{
		"msg": `seccompProfile (container "i" must not set securityContext.seccompProfile.type to "")`,
		"path": "spec.initContainers[0].securityContext.seccompProfile.type",
	}} with input as review
}

test_fail_ephemeral_container if {
	review := pss_test.spec(pss_test.all_kinds({}, {}, _seccomp("Unconfined")))
	seccompProfile_baseline.violation == {{
		"msg": `seccompProfile (container "e" must not set securityContext.seccompProfile.type to "Unconfined")`,
		"path": "spec.ephemeralContainers[0].securityContext.seccompProfile.type",
	}} with input as review
}

test_fail_pod_and_containers if {
	review := pss_test.spec(object.union(
		pss_test.all_kinds(_seccomp("Unconfined"), _seccomp("RuntimeDefault"), _seccomp("bogus")),
		{"securityContext": _seccomp("Unconfined")},
	))
	seccompProfile_baseline.violation == {{
		"msg": `seccompProfile (pod and containers "i", "e" must not set securityContext.seccompProfile.type to "Unconfined", "bogus")`,
		"path": "spec.securityContext.seccompProfile.type",
	}} with input as review
}

test_annotations_ignored_from_1_19 if {
	review := pss_test.review_at(19, {"annotations": {_pod_key: "unconfined"}}, {"containers": [{"name": "a"}]})
	seccompProfile_baseline.violation == set() with input as review
}

test_fields_checked_at_1_19 if {
	review := pss_test.spec_at(19, {"securityContext": _seccomp("Unconfined"), "containers": [{"name": "a"}]})
	seccompProfile_baseline.violation == {{
		"msg": `seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")`,
		"path": "spec.securityContext.seccompProfile.type",
	}} with input as review
}

# --- v1.0 - v1.18: seccomp annotations --------------------------------------

test_fields_ignored_before_1_19 if {
	review := pss_test.spec_at(18, {"securityContext": _seccomp("Unconfined"), "containers": [pss_test.container("a", _seccomp("Unconfined"))]})
	seccompProfile_baseline.violation == set() with input as review
}

test_pass_allowed_annotations_before_1_19 if {
	review := pss_test.review_at(
		18, {"annotations": {
			_pod_key: "runtime/default",
			_container_key("a"): "docker/default",
			_container_key("b"): "localhost/profile.json",
			_container_key("gone"): "unconfined",
		}},
		{"containers": [{"name": "a"}, {"name": "b"}]},
	)
	seccompProfile_baseline.violation == set() with input as review
}

test_fail_pod_annotation_before_1_19 if {
	review := pss_test.review_at(18, {"annotations": {_pod_key: "unconfined"}}, {"containers": [{"name": "a"}]})
	seccompProfile_baseline.violation == {{
		"msg": `seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")`,
		"path": "metadata.annotations",
	}} with input as review
}

test_fail_empty_container_annotation_at_1_0 if {
	review := pss_test.review_at(0, {"annotations": {_container_key("i"): ""}}, pss_test.all_kinds({}, {}, {}))
	seccompProfile_baseline.violation == {{
		"msg": `seccompProfile (forbidden annotation container.seccomp.security.alpha.kubernetes.io/i="")`,
		"path": "metadata.annotations",
	}} with input as review
}

test_fail_several_annotations_sorted_before_1_19 if {
	review := pss_test.review_at(
		18, {"annotations": {
			_pod_key: "unconfined",
			_container_key("e"): "unconfined",
			_container_key("a"): "runtime/default",
			_container_key("i"): "bogus",
		}},
		pss_test.all_kinds({}, {}, {}),
	)
	seccompProfile_baseline.violation == {{
		"msg": `seccompProfile (forbidden annotations container.seccomp.security.alpha.kubernetes.io/e="unconfined", container.seccomp.security.alpha.kubernetes.io/i="bogus", seccomp.security.alpha.kubernetes.io/pod="unconfined")`,
		"path": "metadata.annotations",
	}} with input as review
}
