package tollgate.pss.hostNamespaces_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.hostNamespaces

test_pass_unset if {
	hostNamespaces.violation == set() with input as pss_test.spec({"containers": [{"name": "a"}]})
}

test_pass_false if {
	review := pss_test.spec({"hostNetwork": false, "hostPID": false, "hostIPC": false, "containers": [{"name": "a"}]})
	hostNamespaces.violation == set() with input as review
}

test_fail_host_network if {
	hostNamespaces.violation == {{
		"msg": "host namespaces (hostNetwork=true)",
		"path": "spec.hostNetwork",
	}} with input as pss_test.spec({"hostNetwork": true})
}

test_fail_host_pid if {
	hostNamespaces.violation == {{
		"msg": "host namespaces (hostPID=true)",
		"path": "spec.hostPID",
	}} with input as pss_test.spec({"hostPID": true, "hostNetwork": false})
}

test_fail_host_ipc if {
	hostNamespaces.violation == {{
		"msg": "host namespaces (hostIPC=true)",
		"path": "spec.hostIPC",
	}} with input as pss_test.spec({"hostIPC": true})
}

test_fail_all_three_in_upstream_order if {
	hostNamespaces.violation == {{
		"msg": "host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)",
		"path": "spec.hostNetwork",
	}} with input as pss_test.spec({"hostIPC": true, "hostPID": true, "hostNetwork": true})
}

test_fail_pid_and_ipc if {
	hostNamespaces.violation == {{
		"msg": "host namespaces (hostPID=true, hostIPC=true)",
		"path": "spec.hostPID",
	}} with input as pss_test.spec({"hostIPC": true, "hostPID": true})
}
