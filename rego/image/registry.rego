# METADATA
# title: Images come from allowed registries
# description: |-
#   When the operator lists the registries images may come from
#   (params.image.allowedRegistries, for example the account's ECR
#   registry and a pull-through cache), an image from any other registry is
#   refused. A reference without a registry comes from Docker Hub
#   (docker.io). Off while the list is empty, which is the default.
# custom:
#   id: image.registry
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Pull the image through one of the allowed registries (an ECR pull-through cache for public images), or add its registry to params.image.allowedRegistries.
#   exampleParams:
#     image:
#       allowedRegistries: [123456789012.dkr.ecr.us-east-1.amazonaws.com]
#   example: |
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm
#     spec:
#       containers:
#       - name: vllm
#         image: ghcr.io/example/vllm:v0.6.3
package tollgate.image.registry

import data.tollgate.image.lib
import data.tollgate.params.image as params

violation contains {"msg": msg, "path": concat("", [path, ".image"])} if {
	count(params.allowedRegistries) > 0
	some [path, c] in lib.containers
	r := lib.registry(c.image)
	not r in params.allowedRegistries
	msg := sprintf("container %q: image %q comes from registry %s, which is not among the allowed registries (%s)", [c.name, c.image, r, concat(", ", params.allowedRegistries)])
}
