package tollgate.pss.privileged_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.privileged

test_pass_unset_or_false if {
	review := pss_test.spec(pss_test.all_kinds({}, {"privileged": false}, {"runAsUser": 1000}))
	privileged.violation == set() with input as review
}

test_pass_no_security_context if {
	privileged.violation == set() with input as pss_test.spec({"containers": [{"name": "a"}]})
}

test_fail_app_container if {
	review := pss_test.spec({"containers": [pss_test.container("a", {"privileged": true})]})
	privileged.violation == {{
		"msg": `privileged (container "a" must not set securityContext.privileged=true)`,
		"path": "spec.containers[0].securityContext.privileged",
	}} with input as review
}

test_fail_init_container if {
	review := pss_test.spec(pss_test.all_kinds({"privileged": true}, {}, {}))
	privileged.violation == {{
		"msg": `privileged (container "i" must not set securityContext.privileged=true)`,
		"path": "spec.initContainers[0].securityContext.privileged",
	}} with input as review
}

test_fail_ephemeral_container if {
	review := pss_test.spec(pss_test.all_kinds({}, {}, {"privileged": true}))
	privileged.violation == {{
		"msg": `privileged (container "e" must not set securityContext.privileged=true)`,
		"path": "spec.ephemeralContainers[0].securityContext.privileged",
	}} with input as review
}

test_fail_every_kind_lists_containers_in_visit_order if {
	review := pss_test.spec(pss_test.all_kinds({"privileged": true}, {"privileged": true}, {"privileged": true}))
	privileged.violation == {{
		"msg": `privileged (containers "i", "a", "e" must not set securityContext.privileged=true)`,
		"path": "spec.initContainers[0].securityContext.privileged",
	}} with input as review
}

test_fail_path_is_first_bad_container if {
	review := pss_test.spec({"containers": [
		pss_test.container("ok", {"privileged": false}),
		pss_test.container("bad", {"privileged": true}),
	]})
	privileged.violation == {{
		"msg": `privileged (container "bad" must not set securityContext.privileged=true)`,
		"path": "spec.containers[1].securityContext.privileged",
	}} with input as review
}
