# METADATA
# title: Accelerator pod without the GPU tolerations
# description: |-
#   A running pod requests a GPU, a MIG slice or another configured
#   accelerator, but lacks the tolerations the gpu-tolerations mutator gives
#   such pods at admission today (default nvidia.com/gpu:NoSchedule with
#   operator Exists). It was created before Tollgate was installed, while
#   the mutating webhook was unreachable (it fails open), or before the
#   tolerations were configured. If it is evicted, its replacement without
#   the tolerations cannot schedule on tainted GPU nodes. Only audits report
#   drift; admission applies the mutation instead.
# custom:
#   id: drift.gpu-tolerations
#   severity: medium
#   action: audit
#   targets: [drift]
#   remediation: Recreate the pod (roll out its Deployment, StatefulSet or Job again) so that admission adds the tolerations, or add them to the pod template.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm-0
#       namespace: ai-inference
#     spec:
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:v0.6.3
#         resources:
#           limits:
#             nvidia.com/gpu: 1
package tollgate.drift.gpu_tolerations

import data.tollgate.drift.lib

violation contains {"msg": msg, "path": lib.path(ops)} if {
	ops := lib.changes(`^spec\.tolerations(\[|$)`)
	count(ops) > 0
	msg := sprintf("lacks the tolerations the gpu-tolerations mutator gives accelerator pods today (%s)", [lib.summary(ops)])
}
