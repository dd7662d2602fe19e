// Tool module that builds, describes and signs Tollgate's container image:
// a static binary on a root filesystem made from scratch, as a reproducible
// multi-arch OCI image index, with a CycloneDX SBOM per architecture and a
// cosign-compatible signature. It is never imported by the project's own
// module; see scripts/image.sh.
module github.com/tollgate-dev/tollgate/build/image

go 1.26.0

require (
	github.com/CycloneDX/cyclonedx-go v0.9.3
	github.com/google/go-containerregistry v0.22.1
	github.com/secure-systems-lab/go-securesystemslib v0.11.1
)

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
	golang.org/x/crypto v0.55.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
