#!/usr/bin/env bash
# Prepares what a GPU machine without Node needs to run the PyTorch engine's checks through the real
# `taia` CLI: .gpu-kit/node.xz (this machine's Node, compressed; Python's lzma unpacks it there), plus
# dist/ and out/ built here. Then prints the command to run there (the device tool's `run`, carrying
# .gpu-kit, dist and out). Nothing here needs a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
node esbuild.mjs >/dev/null
npx tsc -p tsconfig.test.json
mkdir -p .gpu-kit
xz -T0 -6 -c "$(command -v node)" > .gpu-kit/node.xz
du -sh .gpu-kit dist out | sed 's/^/carry: /'
cat <<'CMD'
command (carry: .gpu-kit, dist, out):
  python3 -c "import lzma,shutil;shutil.copyfileobj(lzma.open('.gpu-kit/node.xz'),open('/tmp/node','wb'))" && chmod +x /tmp/node &&
  nvidia-smi --query-gpu=name,memory.total --format=csv &&
  /tmp/node --test out/test/unit/torchEngine.test.js &&
  OUT=$OUT /tmp/node bench/finetune.mjs --engine torch --size 1b --steps 30
CMD
