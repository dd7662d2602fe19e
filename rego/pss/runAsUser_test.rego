package tollgate.pss.runAsUser_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.runAsUser

_root := {"runAsUser": 0}

test_pass_non_zero_or_unset if {
	review := pss_test.spec(object.union(
		pss_test.all_kinds({"runAsUser": 1}, {}, {"runAsUser": 65534}),
		{"securityContext": {"runAsUser": 1000}},
	))
	runAsUser.violation == set() with input as review
}

test_pass_nothing_set if {
	runAsUser.violation == set() with input as pss_test.spec({"containers": [{"name": "a"}]})
}

test_fail_pod if {
	review := pss_test.spec({"securityContext": _root, "containers": [pss_test.container("a", {"runAsUser": 1000})]})
	runAsUser.violation == {{
		"msg": "runAsUser=0 (pod must not set runAsUser=0)",
		"path": "spec.securityContext.runAsUser",
	}} with input as review
}

test_fail_app_container if {
	review := pss_test.spec({"securityContext": {"runAsUser": 1000}, "containers": [pss_test.container("a", _root)]})
	runAsUser.violation == {{
		"msg": `runAsUser=0 (container "a" must not set runAsUser=0)`,
		"path": "spec.containers[0].securityContext.runAsUser",
	}} with input as review
}

test_fail_init_container if {
	review := pss_test.spec(pss_test.all_kinds(_root, {}, {}))
	runAsUser.violation == {{
		"msg": `runAsUser=0 (container "i" must not set runAsUser=0)`,
		"path": "spec.initContainers[0].securityContext.runAsUser",
	}} with input as review
}

test_fail_ephemeral_container if {
	review := pss_test.spec(pss_test.all_kinds({}, {}, _root))
	runAsUser.violation == {{
		"msg": `runAsUser=0 (container "e" must not set runAsUser=0)`,
		"path": "spec.ephemeralContainers[0].securityContext.runAsUser",
	}} with input as review
}

test_fail_pod_and_containers if {
	review := pss_test.spec(object.union(pss_test.all_kinds(_root, {}, _root), {"securityContext": _root}))
	runAsUser.violation == {{
		"msg": `runAsUser=0 (pod and containers "i", "e" must not set runAsUser=0)`,
		"path": "spec.securityContext.runAsUser",
	}} with input as review
}

# From v1.35 pods in a user namespace (hostUsers: false) may run as UID 0.
test_user_namespace_checked_before_1_35 if {
	review := pss_test.spec_at(34, {"hostUsers": false, "securityContext": _root, "containers": [pss_test.container("a", _root)]})
	runAsUser.violation == {{
		"msg": `runAsUser=0 (pod and container "a" must not set runAsUser=0)`,
		"path": "spec.securityContext.runAsUser",
	}} with input as review
}

test_user_namespace_relaxed_from_1_35 if {
	review := pss_test.spec_at(35, {"hostUsers": false, "securityContext": _root, "containers": [pss_test.container("a", _root)]})
	runAsUser.violation == set() with input as review
}

test_host_users_true_not_relaxed_from_1_35 if {
	review := pss_test.spec_at(35, {"hostUsers": true, "containers": [pss_test.container("a", _root)]})
	count(runAsUser.violation) == 1 with input as review
}
