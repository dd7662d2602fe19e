# METADATA
# title: Images are pinned
# description: |-
#   An image without a tag or with the tag latest is not pinned: the node
#   pulls whatever the tag points to when the pod starts, so two replicas of
#   one Deployment can run different code, a rollback does not roll back, and
#   what ran cannot be reproduced. An image pinned by digest
#   (name@sha256:...) is pinned, whatever its tag.
# custom:
#   id: image.tag
#   severity: medium
#   action: warn
#   targets: [pod, template]
#   remediation: Pin the image to a version tag (vllm/vllm-openai:v0.6.3) or, better, to a digest (vllm/vllm-openai@sha256:...).
#   example: |
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm
#     spec:
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:latest
package tollgate.image.tag

import data.tollgate.image.lib

violation contains {"msg": msg, "path": concat("", [path, ".image"])} if {
	some [path, c] in lib.containers
	not lib.digest(c.image)
	why := _unpinned(lib.tag(c.image))
	msg := sprintf("container %q: image %q %s: the node pulls whatever it points to when the pod starts; pin a version tag or a digest", [c.name, c.image, why])
}

_unpinned("") := "has no tag (it means latest)"

_unpinned("latest") := "uses the tag latest"
