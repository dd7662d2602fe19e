package audit

// DriftFamily is the policy family of drift findings: what the mutators
// would change in a running pod if it were created today. Drift policies
// are Rego packages like any other (rego/drift), so that `tollgate
// policies`, reports and operator bundles treat them alike; they read
// input.drift, which only audits set, so they never report at admission.
const DriftFamily = "drift"
