package tollgate.pss.procMount_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.procMount

_unmasked := {"procMount": "Unmasked"}

test_pass_default_or_unset if {
	review := pss_test.spec(pss_test.all_kinds({"procMount": "Default"}, {}, {"runAsUser": 1000}))
	procMount.violation == set() with input as review
}

test_fail_app_container if {
	review := pss_test.spec({"containers": [pss_test.container("a", _unmasked)]})
	procMount.violation == {{
		"msg": `procMount (container "a" must not set securityContext.procMount to "Unmasked")`,
		"path": "spec.containers[0].securityContext.procMount",
	}} with input as review
}

test_fail_init_container if {
	review := pss_test.spec(pss_test.all_kinds(_unmasked, {}, {}))
	procMount.violation == {{
		"msg": `procMount (container "i" must not set securityContext.procMount to "Unmasked")`,
		"path": "spec.initContainers[0].securityContext.procMount",
	}} with input as review
}

test_fail_ephemeral_container if {
	review := pss_test.spec(pss_test.all_kinds({}, {"procMount": "Default"}, _unmasked))
	procMount.violation == {{
		"msg": `procMount (container "e" must not set securityContext.procMount to "Unmasked")`,
		"path": "spec.ephemeralContainers[0].securityContext.procMount",
	}} with input as review
}

test_fail_several_containers_and_types if {
	review := pss_test.spec(pss_test.all_kinds(_unmasked, {"procMount": "Default"}, {"procMount": "Bogus"}))
	procMount.violation == {{
		"msg": `procMount (containers "i", "e" must not set securityContext.procMount to "Bogus", "Unmasked")`,
		"path": "spec.initContainers[0].securityContext.procMount",
	}} with input as review
}

# From v1.35 pods in a user namespace (hostUsers: false) may set any procMount.
test_user_namespace_checked_before_1_35 if {
	review := pss_test.spec_at(34, {"hostUsers": false, "containers": [pss_test.container("a", _unmasked)]})
	procMount.violation == {{
		"msg": `procMount (container "a" must not set securityContext.procMount to "Unmasked")`,
		"path": "spec.containers[0].securityContext.procMount",
	}} with input as review
}

test_user_namespace_relaxed_from_1_35 if {
	review := pss_test.spec_at(35, {"hostUsers": false, "containers": [pss_test.container("a", _unmasked)]})
	procMount.violation == set() with input as review
}

test_host_users_true_not_relaxed_from_1_35 if {
	review := pss_test.spec_at(35, {"hostUsers": true, "containers": [pss_test.container("a", _unmasked)]})
	count(procMount.violation) == 1 with input as review
}
