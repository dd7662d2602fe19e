package tollgate.pss.hostPathVolumes_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.hostPathVolumes

test_pass_no_volumes if {
	hostPathVolumes.violation == set() with input as pss_test.spec({"containers": [{"name": "a"}]})
}

test_pass_other_volume_types if {
	review := pss_test.spec({"volumes": [
		{"name": "scratch", "emptyDir": {}},
		{"name": "models", "persistentVolumeClaim": {"claimName": "models"}},
		{"name": "share", "nfs": {"server": "nfs", "path": "/"}},
	]})
	hostPathVolumes.violation == set() with input as review
}

test_fail_host_path if {
	review := pss_test.spec({"volumes": [
		{"name": "scratch", "emptyDir": {}},
		{"name": "data", "hostPath": {"path": "/var/lib"}},
	]})
	hostPathVolumes.violation == {{
		"msg": `hostPath volumes (volume "data")`,
		"path": "spec.volumes[1].hostPath",
	}} with input as review
}

test_fail_several_host_paths if {
	review := pss_test.spec({"volumes": [
		{"name": "b", "hostPath": {"path": "/b"}},
		{"name": "ok", "configMap": {"name": "cfg"}},
		{"name": "a", "hostPath": {"path": "/a", "type": "Directory"}},
	]})
	hostPathVolumes.violation == {{
		"msg": `hostPath volumes (volumes "b", "a")`,
		"path": "spec.volumes[0].hostPath",
	}} with input as review
}
