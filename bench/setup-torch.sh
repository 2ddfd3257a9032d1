#!/usr/bin/env bash
# Installs the PyTorch CPU reference used by bench/torch_llama.py (Debian 12 bookworm).
#
# Idempotent: safe to re-run; apt skips what is already installed and the
# alternatives are only switched when they point elsewhere.
#
# Notes
#  - Debian's python3-torch (1.13.1) only sees /usr/bin/python3. A pyenv python3
#    earlier on PATH will NOT find it, so the bench must call /usr/bin/python3.
#  - --no-install-recommends: python3-torch recommends libtorch-dev,
#    build-essential, ninja-build, pybind11-dev (hundreds of MB) that a CPU
#    training benchmark never uses.
#  - libtorch links against the generic libblas.so.3 / liblapack.so.3, which are
#    resolved through update-alternatives. Without an explicit choice the
#    reference BLAS (very slow) or a serial OpenBLAS may win, so pin the
#    pthread OpenBLAS.
set -euo pipefail

PKGS=(python3-torch python3-numpy libopenblas0-pthread)
ARCH_TRIPLET="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-torch: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${PKGS[@]}"
else
  echo "setup-torch: packages already installed" >&2
fi

# Pin libblas.so.3 / liblapack.so.3 to the pthread OpenBLAS build.
pin_alternative() {
  local name="$1" target="$2"
  if [ ! -e "$target" ]; then
    echo "setup-torch: expected $target (from libopenblas0-pthread) is missing" >&2
    exit 1
  fi
  local current
  current="$(readlink -f "/etc/alternatives/$name" 2>/dev/null || true)"
  if [ "$current" != "$(readlink -f "$target")" ]; then
    echo "setup-torch: selecting $target for $name" >&2
    $SUDO update-alternatives --set "$name" "$target"
  fi
}
pin_alternative "libblas.so.3-${ARCH_TRIPLET}"   "/usr/lib/${ARCH_TRIPLET}/openblas-pthread/libblas.so.3"
pin_alternative "liblapack.so.3-${ARCH_TRIPLET}" "/usr/lib/${ARCH_TRIPLET}/openblas-pthread/liblapack.so.3"

# Sanity check with the interpreter that actually sees the Debian packages.
/usr/bin/python3 - <<'PY' >&2
import torch, numpy
print(f"setup-torch: torch {torch.__version__}, numpy {numpy.__version__}")
import ctypes
libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l or "lapack" in l})
print("setup-torch: loaded BLAS/LAPACK:", ", ".join(libs) or "(none)")
# torch.__config__.show() says BLAS_INFO=generic on Debian (it links libblas.so.3),
# so ask OpenBLAS itself which kernels it picked.
try:
    f = ctypes.CDLL("libblas.so.3").openblas_get_config
    f.restype = ctypes.c_char_p
    cfg = f().decode()
    print("setup-torch:", cfg)
    if "Prescott" in cfg.split():
        print("setup-torch: note: OpenBLAS does not recognise this CPU and uses its slow Prescott kernels;"
              " bench/torch_llama.py sets OPENBLAS_CORETYPE itself when it sees this")
except (OSError, AttributeError):
    print("setup-torch: warning: libblas.so.3 is not OpenBLAS")
PY
echo "setup-torch: ok" >&2
