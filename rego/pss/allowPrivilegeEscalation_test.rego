package tollgate.pss.allowPrivilegeEscalation_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.allowPrivilegeEscalation

_off := {"allowPrivilegeEscalation": false}

test_pass_every_container_sets_false if {
	review := pss_test.spec(pss_test.all_kinds(_off, _off, _off))
	allowPrivilegeEscalation.violation == set() with input as review
}

test_fail_unset if {
	review := pss_test.spec({"containers": [{"name": "a"}]})
	allowPrivilegeEscalation.violation == {{
		"msg": `allowPrivilegeEscalation != false (container "a" must set securityContext.allowPrivilegeEscalation=false)`,
		"path": "spec.containers[0].securityContext.allowPrivilegeEscalation",
	}} with input as review
}

test_fail_true if {
	review := pss_test.spec({"containers": [pss_test.container("a", {"allowPrivilegeEscalation": true})]})
	allowPrivilegeEscalation.violation == {{
		"msg": `allowPrivilegeEscalation != false (container "a" must set securityContext.allowPrivilegeEscalation=false)`,
		"path": "spec.containers[0].securityContext.allowPrivilegeEscalation",
	}} with input as review
}

test_fail_init_container if {
	review := pss_test.spec(pss_test.all_kinds({}, _off, _off))
	allowPrivilegeEscalation.violation == {{
		"msg": `allowPrivilegeEscalation != false (container "i" must set securityContext.allowPrivilegeEscalation=false)`,
		"path": "spec.initContainers[0].securityContext.allowPrivilegeEscalation",
	}} with input as review
}

test_fail_ephemeral_container if {
	review := pss_test.spec(pss_test.all_kinds(_off, _off, {"allowPrivilegeEscalation": true}))
	allowPrivilegeEscalation.violation == {{
		"msg": `allowPrivilegeEscalation != false (container "e" must set securityContext.allowPrivilegeEscalation=false)`,
		"path": "spec.ephemeralContainers[0].securityContext.allowPrivilegeEscalation",
	}} with input as review
}

test_fail_lists_every_container if {
	review := pss_test.spec(pss_test.all_kinds({}, {"allowPrivilegeEscalation": true}, {}))
	allowPrivilegeEscalation.violation == {{
		"msg": `allowPrivilegeEscalation != false (containers "i", "a", "e" must set securityContext.allowPrivilegeEscalation=false)`,
		"path": "spec.initContainers[0].securityContext.allowPrivilegeEscalation",
	}} with input as review
}

# Windows pods are exempt from v1.25 (allowPrivilegeEscalation_1_25).
test_windows_pod_checked_before_1_25 if {
	review := pss_test.spec_at(24, {"os": {"name": "windows"}, "containers": [{"name": "a"}]})
	count(allowPrivilegeEscalation.violation) == 1 with input as review
}

test_windows_pod_exempt_from_1_25 if {
	review := pss_test.spec_at(25, {"os": {"name": "windows"}, "containers": [{"name": "a"}]})
	allowPrivilegeEscalation.violation == set() with input as review
}

test_linux_pod_not_exempt_from_1_25 if {
	review := pss_test.spec_at(25, {"os": {"name": "linux"}, "containers": [{"name": "a"}]})
	count(allowPrivilegeEscalation.violation) == 1 with input as review
}
