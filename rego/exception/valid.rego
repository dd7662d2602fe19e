# METADATA
# title: PolicyExceptions have a reason, an expiry within bounds and a scope
# description: |-
#   A tollgate.dev/v1alpha1 PolicyException must give spec.reason and
#   spec.expiresAt (RFC 3339), expire in the future and at most
#   exceptions.maxDuration (default 180 days) after the time it is
#   admitted, name its policies (spec.policies, ids or globs with '*' as
#   the only wildcard) without a blanket '*', each matching at least one
#   known policy, and give a spec.match.selector the API server's label
#   selector parser accepts. An exception that breaks these rules excepts
#   nothing (docs/exceptions.md).
# custom:
#   id: exception.valid
#   severity: high
#   action: deny
#   targets: [exception]
#   remediation: 'Give spec.reason, spec.expiresAt at most exceptions.maxDuration ahead (renew it with a new expiry when it is still needed), and list the policy ids or globs (pss.baseline.*) it excepts.'
#   example: |
#     apiVersion: tollgate.dev/v1alpha1
#     kind: PolicyException
#     metadata:
#       name: everything-forever
#       namespace: gpu-monitoring
#     spec:
#       policies: ["*"]
#       match:
#         kinds: [Pod]
package tollgate.exception.valid

_spec := object.get(input.object, "spec", {})

violation contains {"msg": "spec.reason is required: say why the exception is needed", "path": "spec.reason"} if {
	trim_space(object.get(_spec, "reason", "")) == ""
}

violation contains {"msg": "spec.expiresAt is required: every exception expires", "path": "spec.expiresAt"} if {
	object.get(_spec, "expiresAt", "") == ""
}

violation contains {"msg": msg, "path": "spec.expiresAt"} if {
	e := object.get(_spec, "expiresAt", "")
	e != ""
	not _expires_ns
	msg := sprintf("spec.expiresAt %q is not an RFC 3339 time such as 2027-03-01T00:00:00Z", [e])
}

violation contains {"msg": msg, "path": "spec.expiresAt"} if {
	_expires_ns <= _now_ns
	msg := sprintf("spec.expiresAt %s is not in the future (now %s)", [_spec.expiresAt, input.exception.now])
}

violation contains {"msg": msg, "path": "spec.expiresAt"} if {
	_expires_ns - _now_ns > input.exception.maxDurationSeconds * 1000000000
	msg := sprintf("spec.expiresAt %s is more than %d days ahead (exceptions.maxDuration): renew the exception instead", [
		_spec.expiresAt, round(input.exception.maxDurationSeconds / 86400),
	])
}

violation contains {"msg": "spec.policies is required: name the policy ids or globs the exception excepts", "path": "spec.policies"} if {
	count(object.get(_spec, "policies", [])) == 0
}

violation contains {"msg": msg, "path": sprintf("spec.policies[%d]", [i])} if {
	some i, p in object.get(_spec, "policies", [])
	_blanket(p)
	msg := sprintf("spec.policies[%d] %q excepts every policy: name the policies or a family glob such as pss.baseline.*", [i, p])
}

violation contains {"msg": msg, "path": sprintf("spec.policies[%d]", [i])} if {
	some i, p in object.get(_spec, "policies", [])
	not _blanket(p)
	not _bad_glob(p)
	not _known(p)
	msg := sprintf("spec.policies[%d] %q matches no known policy (tollgate policies lists them)", [i, p])
}

violation contains {"msg": msg, "path": sprintf("spec.%s[%d]", [field, i])} if {
	some field in ["policies", "match.names"]
	some i, p in object.get(_spec, split(field, "."), [])
	_bad_glob(p)
	msg := sprintf("spec.%s[%d] %v: a non-empty name where '*' is the only wildcard", [field, i, p])
}

violation contains {"msg": msg, "path": "spec.match.selector"} if {
	input.exception.selectorError != ""
	msg := sprintf("spec.match.selector does not parse: %s", [input.exception.selectorError])
}

_now_ns := time.parse_rfc3339_ns(input.exception.now)

_expires_ns := time.parse_rfc3339_ns(_spec.expiresAt)

_blanket(p) if {
	is_string(p)
	trim(p, "*") == ""
	p != ""
}

_bad_glob(p) if not is_string(p)

_bad_glob(p) if p == ""

_bad_glob(p) if regex.match(`[?\[\]{}\\!,]`, p)

# glob.match with "/" as the only delimiter, which no policy id holds: '*'
# matches any run of characters, dots included (pss.* matches
# pss.baseline.privileged), as internal/exception matches ids. An empty
# delimiter list would mean the default ".".
_known(p) if {
	some id in input.exception.knownPolicies
	glob.match(p, ["/"], id)
}
