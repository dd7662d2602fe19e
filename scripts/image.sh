#!/usr/bin/env bash
# Builds Tollgate's container image without Docker: a static binary of
# ./cmd/tollgate for linux/amd64 and linux/arm64 on a root filesystem made
# from scratch (CA bundle from Debian's ca-certificates, the nonroot user
# 65532, an empty /tmp, licence files, no shell), as one OCI image index,
# byte-for-byte reproducible from the commit. The builder is the tool
# module build/image (go-containerregistry); see docs/install.md.
#
#   scripts/image.sh                        build into out/image/
#   scripts/image.sh --check-reproducible   build twice, from two copies of
#                                           the tree, the second with an empty
#                                           Go build cache, and compare the
#                                           index digests and SBOMs
#   scripts/image.sh --sign KEY             build, then sign the index digest
#                                           and attest each SBOM with KEY
#                                           (offline; a cosign key reads its
#                                           password from $COSIGN_PASSWORD),
#                                           and verify with KEY's public key
#   scripts/image.sh --verify PUB           check out/image's signature and
#                                           attestations with PUB; no build
#   scripts/image.sh --force                build even when out/image is up to
#                                           date
#
# Cached: out/image/inputs records what the last build was made from (the
# commit, uncommitted changes, version, times, Go, ca-certificates and
# cyclonedx-gomod); when it matches, the build is skipped (about a second).
#
# Output in out/image/ (TOLLGATE_IMAGE_DIR):
#   oci/                      OCI image layout, ref name = version
#   tollgate-ARCH.docker.tar  docker-archive per architecture
#   digest, digest-ARCH       index digest, manifest digest per architecture
#   sbom-ARCH.cdx.json        CycloneDX SBOM per architecture
#   signature/, sbom-ARCH.att.json   with --sign
#
# Inputs, all fixed by the commit unless set:
#   VERSION            default: the exact git tag without "v", else
#                      <chart appVersion>-dev.<commit>; ".dirty" is added
#                      when tracked files have uncommitted changes
#   REVISION           default: git rev-parse HEAD
#   SOURCE_DATE_EPOCH  default: the commit time, git log -1 --format=%ct
# The Go toolchain and Debian's ca-certificates version are inputs too:
# both are printed and recorded (build info, image label, SBOM).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools="${TOLLGATE_TOOLS_DIR:-$root/bin}"
out="${TOLLGATE_IMAGE_DIR:-$root/out/image}"
archs=(amd64 arm64)
cyclonedx_version=v1.10.0
pkg=github.com/tollgate-dev/tollgate/internal/version

die() { echo "error: $*" >&2; exit 1; }
step() { echo "== $*"; }

mode=build key="" pub="" force=""
while [ $# -gt 0 ]; do
  case "$1" in
    --check-reproducible) mode=check ;;
    --force) force=1 ;;
    --sign) [ $# -ge 2 ] || die "--sign needs a key file"; key=$2; shift ;;
    --verify) [ $# -ge 2 ] || die "--verify needs a public key file"; pub=$2; mode=verify; shift ;;
    -h|--help) sed -n '2,42p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done
[ -z "$key" ] || [ -f "$key" ] || die "--sign: no key file $key"
[ -z "$pub" ] || [ -f "$pub" ] || die "--verify: no public key file $pub"

# imagetool is built from this tree's build/image each run (seconds, with
# Go's build cache); it lives outside out/ so that a build never deletes it.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go -C "$root/build/image" build -o "$tmp/imagetool" ./cmd/imagetool
imagetool="$tmp/imagetool"

if [ "$mode" = verify ]; then
  "$imagetool" verify --key "$pub" --dir "$out"
  exit 0
fi

# The build's inputs, fixed once so that --check-reproducible's two builds
# share them.
if [ -z "${REVISION:-}" ]; then
  REVISION=$(git rev-parse HEAD) || die "not a git checkout: set REVISION, VERSION and SOURCE_DATE_EPOCH"
fi
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
if [ -z "${VERSION:-}" ]; then
  if tag=$(git describe --tags --exact-match 2>/dev/null); then
    VERSION=${tag#v}
  else
    app=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/tollgate/Chart.yaml)
    VERSION="$app-dev.${REVISION:0:12}"
  fi
  if ! git diff --quiet HEAD -- 2>/dev/null; then
    VERSION="$VERSION.dirty"
    echo "warning: tracked files have uncommitted changes: the image is built from them, labelled $VERSION" >&2
  fi
fi
[[ "$VERSION" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "VERSION $VERSION is not a valid image tag"
export VERSION REVISION SOURCE_DATE_EPOCH
build_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# Debian's ca-certificates, the candidate version of this machine's package
# lists, downloaded once into the tools directory. The Mozilla roots it
# ships become /etc/ssl/certs/ca-certificates.crt.
ca_certs() {
  local v deb
  v=$(apt-cache policy ca-certificates 2>/dev/null | sed -n 's/^ *Candidate: //p')
  if [ -z "$v" ] || [ "$v" = "(none)" ]; then
    command -v apt-get >/dev/null || die "Debian's apt is needed for the CA bundle (ca-certificates package)"
    apt-get update -qq
    v=$(apt-cache policy ca-certificates | sed -n 's/^ *Candidate: //p')
  fi
  [ -n "$v" ] && [ "$v" != "(none)" ] || die "no ca-certificates package in the apt sources"
  deb="$tools/ca-certificates/ca-certificates_${v//:/%3a}_all.deb"
  if [ ! -s "$deb" ]; then
    mkdir -p "$tools/ca-certificates" "$tmp/apt"
    (cd "$tmp/apt" && apt-get download -qq "ca-certificates=$v") ||
      { apt-get update -qq && (cd "$tmp/apt" && apt-get download -qq "ca-certificates=$v"); } ||
      die "cannot download ca-certificates $v"
    mv -f "$tmp/apt"/ca-certificates_*.deb "$deb"
  fi
  rm -rf "$tmp/ca"
  dpkg-deb -x "$deb" "$tmp/ca"
  ca_version=$v
  # The release the package lists are of, for the SBOM's package URL.
  ca_distro=debian-$(. /etc/os-release && echo "${VERSION_ID%%.*}")
  ca_dir="$tmp/ca/usr/share/ca-certificates/mozilla"
  ca_copyright="$tmp/ca/usr/share/doc/ca-certificates/copyright"
}

# cyclonedx-gomod, pinned, installed once into the tools directory.
cyclonedx() {
  local v
  if [ -x "$tools/cyclonedx-gomod" ] && v=$("$tools/cyclonedx-gomod" version 2>/dev/null) &&
    grep -q "^Version:[[:space:]]*$cyclonedx_version\$" <<<"$v"; then
    return
  fi
  echo "installing github.com/CycloneDX/cyclonedx-gomod $cyclonedx_version into $tools"
  GOBIN="$tools" go install "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$cyclonedx_version"
}

# build_image SRC DST builds the image from the source tree SRC into DST.
build_image() {
  local src=$1 dst=$2 work arch start
  work="$dst/.work"
  rm -rf "$work"
  mkdir -p "$work"
  : >"$work/modules"
  for arch in "${archs[@]}"; do
    start=$(date +%s)
    # GOAMD64 and GOARM64 are pinned to the toolchain defaults so that a
    # developer's environment cannot change the binary.
    (cd "$src" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOAMD64=v1 GOARM64=v8.0 GOFLAGS= \
      go build -trimpath -buildvcs=false \
        -ldflags "-s -w -X $pkg.Version=$VERSION -X $pkg.Revision=$REVISION -X $pkg.BuildDate=$build_date" \
        -o "$work/linux-$arch/tollgate" ./cmd/tollgate)
    (cd "$src" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOFLAGS= go list -deps \
      -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' ./cmd/tollgate) >>"$work/modules"
    echo "built linux/$arch tollgate ($(( $(stat -c %s "$work/linux-$arch/tollgate") / 1024 / 1024 )) MiB) in $(( $(date +%s) - start ))s"
  done
  local binaries=()
  for arch in "${archs[@]}"; do binaries+=(--binary "$arch=$work/linux-$arch/tollgate"); done
  "$imagetool" build --out "$dst" "${binaries[@]}" --modules "$work/modules" \
    --ca-certs "$ca_dir" --ca-version "$ca_version" \
    --doc "tollgate/LICENSE=$src/LICENSE" --doc "tollgate/NOTICE=$src/NOTICE" \
    --doc "ca-certificates/copyright=$ca_copyright" \
    --version "$VERSION" --revision "$REVISION" --created "$SOURCE_DATE_EPOCH"
  for arch in "${archs[@]}"; do
    "$tools/cyclonedx-gomod" bin -json -std -licenses -assert-licenses -noserial -notimestamp -version "$VERSION" \
      -output "$work/sbom-$arch.raw.json" "$work/linux-$arch/tollgate" 2>"$work/sbom-$arch.log" ||
      { cat "$work/sbom-$arch.log" >&2; die "cyclonedx-gomod failed for linux/$arch"; }
    "$imagetool" sbom --in "$work/sbom-$arch.raw.json" --out "$dst/sbom-$arch.cdx.json" --license "$src/LICENSE" \
      --ca-version "$ca_version" --ca-distro "$ca_distro" --digest "$(cat "$dst/digest-$arch")" --created "$SOURCE_DATE_EPOCH"
  done
  rm -rf "$work"
}

# copy_tree DST copies the tracked and untracked, not ignored files of the
# work tree as they are now (uncommitted changes included) into DST.
copy_tree() {
  local f
  mkdir -p "$1"
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
  done | tar --null -T - -cf - | tar -xf - -C "$1"
}

ca_certs
cyclonedx
echo "version $VERSION, revision $REVISION, created $build_date ($SOURCE_DATE_EPOCH), $(go version | cut -d' ' -f3), ca-certificates $ca_version"

if [ "$mode" = check ]; then
  # Two source trees at different paths. The first build uses the usual Go
  # build cache; the second an empty one (unless TOLLGATE_REPRO_CACHE=shared),
  # so that a match cannot come from a cached compile or link: that one is
  # a cold build of both architectures (about 10 minutes on 2 cores).
  # Both copies are taken first, so that an edit during the first build
  # cannot make the second differ.
  copy_tree "$tmp/src1"
  copy_tree "$tmp/src2"
  for n in 1 2; do
    cache=$(go env GOCACHE)
    if [ "$n" = 2 ] && [ "${TOLLGATE_REPRO_CACHE:-fresh}" != shared ]; then cache="$tmp/gocache"; fi
    step "build $n of 2 (source copied to $tmp/src$n, Go build cache $cache)"
    start=$(date +%s)
    GOCACHE="$cache" build_image "$tmp/src$n" "$tmp/out$n"
    echo "build $n took $(( $(date +%s) - start ))s"
  done
  d1=$(cat "$tmp/out1/digest") d2=$(cat "$tmp/out2/digest")
  echo "build 1: $d1"
  echo "build 2: $d2"
  [ "$d1" = "$d2" ] || die "the two builds differ: the image is not reproducible"
  for arch in "${archs[@]}"; do
    cmp -s "$tmp/out1/sbom-$arch.cdx.json" "$tmp/out2/sbom-$arch.cdx.json" || die "the SBOMs of linux/$arch differ"
  done
  echo "reproducible: both builds made image index $d1 and the same SBOMs"
  exit 0
fi

# What the build is made from; an identical record means identical output.
inputs() {
  echo "version $VERSION revision $REVISION epoch $SOURCE_DATE_EPOCH archs ${archs[*]}"
  echo "$(go version) ca-certificates $ca_version $ca_distro cyclonedx-gomod $cyclonedx_version"
  git diff HEAD --binary
  git ls-files -z --others --exclude-standard | xargs -0 -r sha256sum
}
want=$(inputs | sha256sum | cut -d' ' -f1)
if [ -z "$force" ] && [ -s "$out/digest" ] && [ -f "$out/oci/index.json" ] && [ "$(cat "$out/inputs" 2>/dev/null)" = "$want" ]; then
  echo "out/image is up to date: image index $(cat "$out/digest") (--force rebuilds)"
else
  step "building $VERSION for ${archs[*]}"
  start=$(date +%s)
  # A signature of the previous build would not match the new one.
  rm -rf "$out/inputs" "$out/signature" "$out"/sbom-*.att.json
  build_image "$root" "$out"
  echo "$want" >"$out/inputs"
  echo "built in $(( $(date +%s) - start ))s: $out"
fi
if [ -n "$key" ]; then
  step "signing with $key"
  "$imagetool" sign --key "$key" --dir "$out"
  # The public key of the private key, to verify what was just written.
  "$imagetool" pubkey --key "$key" --out "$tmp/key.pub" >/dev/null
  "$imagetool" verify --key "$tmp/key.pub" --dir "$out"
fi
