# METADATA
# title: GPU quota helpers
# description: |-
#   What the quota policies share: the namespace's GPU quota state gathered
#   in Go (input.state.quota, present for pods that request GPUs; see
#   docs/policy-input.md) and how GPU counts and prices are shown. Quotas
#   are checked when a pod is created: a pod's GPU requests cannot change
#   afterwards, and the pod itself is never counted in its namespace's use.
package tollgate.quota.lib

# quota is the namespace's GPU quota state for a pod being created.
quota := input.state.quota if input.request.operation != "UPDATE"

# gpus shows a GPU count: 2, or 1.43 for MIG slices.
gpus(n) := sprintf("%d", [n]) if n == floor(n)

gpus(n) := sprintf("%.2f", [n]) if n != floor(n)

# gpus_noun shows a GPU count with its noun: 1 GPU, 2 GPUs, 0.43 GPUs.
gpus_noun(1) := "1 GPU"

gpus_noun(n) := concat(" ", [gpus(n), "GPUs"]) if n != 1

# dollars shows an hourly cost: $12.29 (Rego's %f needs a non-integer).
dollars(n) := sprintf("$%d.%02d", [floor(cents / 100), cents % 100]) if cents := round(n * 100)

# epsilon absorbs the rounding of MIG fractions (3/7 + 4/7 is one GPU).
epsilon := 0.000001
