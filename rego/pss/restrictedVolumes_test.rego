package tollgate.pss.restrictedVolumes_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.restrictedVolumes

# Upstream's restricted sources, in the order it reports them.
_restricted := [
	"hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs",
	"iscsi", "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
	"fc", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
	"photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
]

_volumes(vs) := pss_test.spec({"containers": [{"name": "a"}], "volumes": vs})

test_pass_no_volumes if {
	restrictedVolumes.violation == set() with input as _volumes([])
}

test_pass_allowed_sources if {
	review := _volumes([
		{"name": "cm", "configMap": {"name": "cfg"}},
		{"name": "csi", "csi": {"driver": "fsx.csi.aws.com"}},
		{"name": "dapi", "downwardAPI": {"items": []}},
		{"name": "scratch", "emptyDir": {}},
		{"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
		{"name": "weights", "image": {"reference": "models:v1"}},
		{"name": "models", "persistentVolumeClaim": {"claimName": "models"}},
		{"name": "token", "projected": {"sources": []}},
		{"name": "creds", "secret": {"secretName": "creds"}},
	])
	restrictedVolumes.violation == set() with input as review
}

# An allowed source wins, as in upstream's switch.
test_pass_allowed_and_restricted_source if {
	review := _volumes([{"name": "mixed", "emptyDir": {}, "hostPath": {"path": "/"}}])
	restrictedVolumes.violation == set() with input as review
}

test_fail_host_path if {
	review := _volumes([{"name": "ok", "emptyDir": {}}, {"name": "data", "hostPath": {"path": "/var/lib"}}])
	restrictedVolumes.violation == {{
		"msg": `restricted volume types (volume "data" uses restricted volume type "hostPath")`,
		"path": "spec.volumes[1]",
	}} with input as review
}

test_fail_each_restricted_source if {
	every t in _restricted {
		review := _volumes([{"name": "v", t: {}}])
		restrictedVolumes.violation == {{
			"msg": sprintf(`restricted volume types (volume "v" uses restricted volume type %q)`, [t]),
			"path": "spec.volumes[0]",
		}} with input as review
	}
}

test_fail_volume_without_source if {
	restrictedVolumes.violation == {{
		"msg": `restricted volume types (volume "v" uses restricted volume type "unknown")`,
		"path": "spec.volumes[0]",
	}} with input as _volumes([{"name": "v"}])
}

test_fail_unknown_source if {
	restrictedVolumes.violation == {{
		"msg": `restricted volume types (volume "v" uses restricted volume type "unknown")`,
		"path": "spec.volumes[0]",
	}} with input as _volumes([{"name": "v", "futureSource": {}}])
}

# A volume naming several restricted sources reports the first in upstream's
# order: with the sources _restricted[k:], the type is _restricted[k].
test_fail_several_restricted_sources_report_upstream_order if {
	every k, t in _restricted {
		sources := {s: {} | some s in array.slice(_restricted, k, count(_restricted))}
		restrictedVolumes.violation == {{
			"msg": sprintf(`restricted volume types (volume "v" uses restricted volume type %q)`, [t]),
			"path": "spec.volumes[0]",
		}} with input as _volumes([object.union({"name": "v"}, sources)])
	}
}

test_fail_two_restricted_sources if {
	restrictedVolumes.violation == {{
		"msg": `restricted volume types (volume "v" uses restricted volume type "hostPath")`,
		"path": "spec.volumes[0]",
	}} with input as _volumes([{"name": "v", "nfs": {}, "hostPath": {}}])
}

# Volume names in order; types sorted and distinct.
test_fail_several_volumes if {
	review := _volumes([
		{"name": "n1", "nfs": {"server": "s", "path": "/"}},
		{"name": "ok", "secret": {"secretName": "s"}},
		{"name": "h", "hostPath": {"path": "/"}},
		{"name": "n2", "nfs": {"server": "s", "path": "/"}},
	])
	restrictedVolumes.violation == {{
		"msg": `restricted volume types (volumes "n1", "h", "n2" use restricted volume types "hostPath", "nfs")`,
		"path": "spec.volumes[0]",
	}} with input as review
}

test_fail_several_volumes_one_type if {
	review := _volumes([{"name": "a", "nfs": {}}, {"name": "b", "nfs": {}}])
	restrictedVolumes.violation == {{
		"msg": `restricted volume types (volumes "a", "b" use restricted volume type "nfs")`,
		"path": "spec.volumes[0]",
	}} with input as review
}
