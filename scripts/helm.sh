#!/usr/bin/env bash
# Run the project's pinned helm, building it with `go install` from the Go module proxy on
# first use (no binary downloads, no package manager). The binary lives in <repo>/var/bin.
#
#   scripts/helm.sh version        # any helm arguments; builds helm when missing
#   scripts/helm.sh --path         # only build when missing and print the binary's path
#
# Environment:
#   HELM_VERSION   module version to build, default v3.21.4 (its go.mod says go 1.26.0; an older Go
#                  fetches that toolchain from the module proxy when GOTOOLCHAIN=auto)
#   HELM_BIN       use this helm instead of building one
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
BIN_DIR="$ROOT/var/bin"
# The version is in the file name so bumping HELM_VERSION rebuilds instead of reusing.
HELM="${HELM_BIN:-$BIN_DIR/helm-$HELM_VERSION}"

export PATH="/usr/local/go/bin:$PATH"

if [[ ! -x "$HELM" ]]; then
  command -v go >/dev/null || { echo "[helm] ERROR: Go is needed to build helm" >&2; exit 1; }
  echo "[helm] building helm $HELM_VERSION with go install (first use only)..." >&2
  start=$(date +%s)
  build_dir="$(mktemp -d)"
  trap 'rm -rf "$build_dir"' EXIT
  # Build into a private dir, then move: a half-written binary is never left at $HELM.
  # Like helm's own Makefile: stamp the version and the Kubernetes version of its client-go
  # (a plain `go install` defaults to Kubernetes 1.20 for `helm template` and `helm lint`).
  gomod="$(cd "$build_dir" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  client_go="$(awk '$1 == "k8s.io/client-go" { print $2 }' "$gomod")"  # e.g. v0.36.2
  k8s_minor="$(echo "$client_go" | cut -d. -f2)"
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
  done
  GOBIN="$build_dir" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mkdir -p "$BIN_DIR"
  mv "$build_dir/helm" "$HELM"
  rm -rf "$build_dir"
  echo "[helm] built $HELM in $(( $(date +%s) - start )) s" >&2
fi

if [[ "${1:-}" == "--path" ]]; then
  echo "$HELM"
  exit 0
fi
exec "$HELM" "$@"
