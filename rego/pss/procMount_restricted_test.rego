package tollgate.pss.procMount_restricted_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.procMount_restricted

_unmasked := {"procMount": "Unmasked"}

test_pass_default_or_unset if {
	review := pss_test.spec(pss_test.all_kinds({"procMount": "Default"}, {}, {"runAsUser": 1000}))
	procMount_restricted.violation == set() with input as review
}

test_fail_app_container if {
	review := pss_test.spec({"containers": [pss_test.container("a", _unmasked)]})
	procMount_restricted.violation == {{
		"msg": `procMount (container "a" must not set securityContext.procMount to "Unmasked")`,
		"path": "spec.containers[0].securityContext.procMount",
	}} with input as review
}

test_fail_init_container if {
	review := pss_test.spec(pss_test.all_kinds(_unmasked, {}, {}))
	procMount_restricted.violation == {{
		"msg": `procMount (container "i" must not set securityContext.procMount to "Unmasked")`,
		"path": "spec.initContainers[0].securityContext.procMount",
	}} with input as review
}

test_fail_ephemeral_container if {
	review := pss_test.spec(pss_test.all_kinds({}, {}, _unmasked))
	procMount_restricted.violation == {{
		"msg": `procMount (container "e" must not set securityContext.procMount to "Unmasked")`,
		"path": "spec.ephemeralContainers[0].securityContext.procMount",
	}} with input as review
}

test_fail_several_containers if {
	review := pss_test.spec(pss_test.all_kinds(_unmasked, _unmasked, {}))
	procMount_restricted.violation == {{
		"msg": `procMount (containers "i", "a" must not set securityContext.procMount to "Unmasked")`,
		"path": "spec.initContainers[0].securityContext.procMount",
	}} with input as review
}

# Unlike the baseline check, a user namespace does not relax the restricted
# one (upstream's procMount_restricted reuses procMount_1_0).
test_user_namespace_not_relaxed if {
	spec := {"hostUsers": false, "containers": [pss_test.container("a", _unmasked)]}
	want := {{
		"msg": `procMount (container "a" must not set securityContext.procMount to "Unmasked")`,
		"path": "spec.containers[0].securityContext.procMount",
	}}
	procMount_restricted.violation == want with input as pss_test.spec_at(35, spec)
	procMount_restricted.violation == want with input as pss_test.spec_at(pss_test.latest, spec)
}
