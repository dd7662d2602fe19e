package tollgate.exception.valid_test

import data.tollgate.exception.valid

exc(spec) := {
	"object": {
		"apiVersion": "tollgate.dev/v1alpha1", "kind": "PolicyException",
		"metadata": {"name": "dcgm-host", "namespace": "gpu-monitoring"},
		"spec": object.union(
			{
				"policies": ["pss.baseline.privileged", "pss.baseline.host*"],
				"match": {"kinds": ["Pod", "DaemonSet"], "names": ["dcgm-exporter-*"]},
				"reason": "DCGM exporter reads GPU counters through the host",
				"ticket": "PLAT-1234",
				"expiresAt": "2027-03-01T00:00:00Z",
			},
			spec,
		),
	},
	"exception": {
		"now": "2026-12-01T00:00:00Z",
		"maxDurationSeconds": 15552000,
		"knownPolicies": ["pss.baseline.privileged", "pss.baseline.hostNamespaces", "spot.grace"],
		"selectorError": "",
	},
}

paths(v) := {f.path | some f in v}

test_valid_passes if {
	valid.violation == set() with input as exc({})
}

test_no_reason if {
	paths(valid.violation) == {"spec.reason"} with input as exc({"reason": " "})
}

test_no_expiry if {
	paths(valid.violation) == {"spec.expiresAt"} with input as exc({"expiresAt": ""})
}

test_unparsable_expiry if {
	some f in valid.violation with input as exc({"expiresAt": "March"})
	contains(f.msg, "not an RFC 3339 time")
}

test_past_expiry if {
	some f in valid.violation with input as exc({"expiresAt": "2026-11-30T00:00:00Z"})
	contains(f.msg, "not in the future")
}

test_too_long if {
	some f in valid.violation with input as exc({"expiresAt": "2027-06-01T00:00:00Z"})
	contains(f.msg, "more than 180 days ahead")
}

test_exactly_max_duration_passes if {
	# 2026-12-01 + 180 days
	valid.violation == set() with input as exc({"expiresAt": "2027-05-30T00:00:00Z"})
}

test_blanket if {
	paths(valid.violation) == {"spec.policies[1]"} with input as exc({"policies": ["spot.grace", "*"]})
}

test_unknown_policy if {
	some f in valid.violation with input as exc({"policies": ["pss.baseline.privilegd"]})
	contains(f.msg, "matches no known policy")
}

test_family_glob_known if {
	valid.violation == set() with input as exc({"policies": ["pss.*"]})
}

test_bad_glob if {
	paths(valid.violation) == {"spec.match.names[0]"} with input as exc({"match": {"names": ["dcgm-[a-z]"]}})
}

test_no_policies if {
	paths(valid.violation) == {"spec.policies"} with input as exc({"policies": []})
}

test_selector_error if {
	paths(valid.violation) == {"spec.match.selector"} with input as exc({}) with input.exception.selectorError as "bad"
}
