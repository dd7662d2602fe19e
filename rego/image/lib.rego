# METADATA
# title: Image reference helpers
# description: |-
#   An image reference split as the container runtime reads it
#   (distribution/reference): the registry is the first path component when
#   it contains a dot or a colon or is localhost, else Docker Hub
#   (docker.io); the tag follows the last colon of the last component; a
#   digest follows @.
package tollgate.image.lib

# containers lists [field path, container] for every container with an image.
containers := [[input.pod.containerPaths[i], c] |
	some i, c in input.pod.containers
	is_string(c.image)
]

registry(image) := r if {
	parts := split(_name(image), "/")
	count(parts) > 1
	_is_registry(parts[0])
	r := parts[0]
} else := "docker.io"

_is_registry(host) if contains(host, ".")

_is_registry(host) if contains(host, ":")

_is_registry("localhost")

# digest is true when the reference pins a digest.
digest(image) if contains(image, "@")

# tag is the tag of a reference, "" when it has none.
tag(image) := t if {
	last := _last(_name(image))
	contains(last, ":")
	parts := split(last, ":")
	t := parts[count(parts) - 1]
} else := ""

# _name is the reference without its digest.
_name(image) := split(image, "@")[0]

_last(name) := parts[count(parts) - 1] if parts := split(name, "/")
