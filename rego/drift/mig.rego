# METADATA
# title: Pod not on the MIG slice it asks for
# description: |-
#   A running pod whose tollgate.dev/mig-profile annotation (or its
#   namespace's) names a MIG profile still requests whole GPUs, or does not
#   select the nodes that offer the profile: the mig mutator rewrites its
#   resources (mixed strategy) or adds the node selection (single strategy)
#   at admission today. It holds a whole GPU where a slice was asked for.
#   Only audits report drift; admission applies the mutation instead.
# custom:
#   id: drift.mig
#   severity: low
#   action: audit
#   targets: [drift]
#   remediation: Recreate the pod (roll out its workload again) so that admission gives it the MIG slice, or request nvidia.com/mig-<profile> in the pod template.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: tenant-a-llm
#       namespace: tenant-a
#       annotations:
#         tollgate.dev/mig-profile: 3g.40gb
#     spec:
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:v0.6.3
#         resources:
#           limits:
#             nvidia.com/gpu: 1
package tollgate.drift.mig

import data.tollgate.drift.lib

violation contains {"msg": msg, "path": lib.path(ops)} if {
	ops := lib.changes(`^spec\.((initContainers|containers)\[[0-9]+\]\.resources|nodeSelector|affinity)(\.|\[|$)`)
	count(ops) > 0
	msg := sprintf("is not on the MIG slice its tollgate.dev/mig-profile names; the mig mutator would change it today (%s)", [lib.summary(ops)])
}
