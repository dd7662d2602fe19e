package tollgate.image.image_test

import data.tollgate.image.lib
import data.tollgate.image.registry
import data.tollgate.image.tag

_pod(images) := {"pod": {
	"containers": [{"name": sprintf("c%d", [i]), "image": img} | some i, img in images],
	"containerPaths": [sprintf("spec.containers[%d]", [i]) | some i, _ in images],
}}

test_registry_and_tag if {
	lib.registry("vllm/vllm-openai:v0.6.3") == "docker.io"
	lib.registry("nginx") == "docker.io"
	lib.registry("123456789012.dkr.ecr.us-east-1.amazonaws.com/vllm:v1") == "123456789012.dkr.ecr.us-east-1.amazonaws.com"
	lib.registry("localhost/app:1") == "localhost"
	lib.registry("registry:5000/app") == "registry:5000"
	lib.tag("registry:5000/app") == ""
	lib.tag("registry:5000/app:1.2") == "1.2"
	lib.tag("nvcr.io/nvidia/pytorch:25.01-py3") == "25.01-py3"
	lib.tag("app@sha256:abc") == ""
	lib.digest("app:latest@sha256:abc")
}

test_unpinned_images_are_warned_about if {
	v := tag.violation with input as _pod(["vllm/vllm-openai:latest", "nginx", "registry:5000/app", "nvcr.io/nvidia/pytorch:25.01-py3", "app:latest@sha256:0123"])
	{f.path | some f in v} == {"spec.containers[0].image", "spec.containers[1].image", "spec.containers[2].image"}
	{"msg": "container \"c1\": image \"nginx\" has no tag (it means latest): the node pulls whatever it points to when the pod starts; pin a version tag or a digest", "path": "spec.containers[1].image"} in v
}

test_registry_off_by_default if {
	count(registry.violation) == 0 with input as _pod(["ghcr.io/x/y:1"])
}

test_registry_outside_the_list_is_denied if {
	v := registry.violation with input as _pod(["ghcr.io/x/y:1", "123456789012.dkr.ecr.us-east-1.amazonaws.com/y:1", "nginx:1.27"])
		with data.tollgate.params.image.allowedRegistries as ["123456789012.dkr.ecr.us-east-1.amazonaws.com"]
	{f.path | some f in v} == {"spec.containers[0].image", "spec.containers[2].image"}
}
