#!/usr/bin/env bash
# Installs the system BLAS that the built-in engine's matmuls run on (Debian's pthread OpenBLAS; see
# src/trainer/engines/tfjs/nativeBlas.ts). Without it training still works, on tfjs's XNNPACK, slower.
# Idempotent: apt-get runs only when the library is missing.
set -euo pipefail
if ldconfig -p | grep -q 'libopenblas\.so\.0 '; then
  echo "setup-blas: $(ldconfig -p | grep -m1 'libopenblas\.so\.0 ' | sed 's/.*=> //')" >&2
  exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
echo "setup-blas: apt-get install libopenblas0-pthread" >&2
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends libopenblas0-pthread >&2
