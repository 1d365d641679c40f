#!/usr/bin/env bash
# Runs the form-state devnet (a single node, no network) for local testing and for the CI
# of products that call it. Works from any directory: paths are resolved against the
# caller's directory, the node is started from the repository.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  cat <<USAGE
Usage: scripts/run_mock_server.sh [options]

Starts the form-state devnet on 127.0.0.1.

  --port <port>          HTTP port (default 8080; 0 = ephemeral)
  --data-dir <dir>       keep state in <dir> (default: in memory)
  --jwks-url <url>       verify JWTs against this JWKS
  --oidc-issuer <url>    verify JWTs via OIDC discovery of this issuer
  --jwt-issuer <iss>     expected JWT issuer (required with --jwks-url)
  --jwt-audience <aud>   expected JWT audience (default form-state)
  -h, --help             show this help

Any other option is passed to \`formstate devnet\` (see \`formstate help devnet\`).
Environment variables (FORMSTATE_*) are honoured; options win over them.
USAGE
}

args=()
while [ $# -gt 0 ]; do
  opt="$1"
  case "$opt" in
    -h|--help) usage; exit 0 ;;
    --*=*) name="${opt%%=*}"; value="${opt#*=}"; shift ;;
    --port|--data-dir|--jwks-url|--oidc-issuer|--jwt-issuer|--jwt-audience)
      if [ $# -lt 2 ]; then echo "run_mock_server.sh: $opt needs a value (see --help)" >&2; exit 2; fi
      name="$opt"; value="$2"; shift 2 ;;
    *) args+=("$opt"); shift; continue ;;
  esac
  case "$name" in
    --port)
      case "$value" in ''|*[!0-9]*) echo "run_mock_server.sh: --port expects a number, got '$value'" >&2; exit 2 ;; esac
      args+=(--port "$value") ;;
    --data-dir) mkdir -p "$value"; args+=(--data-dir "$(cd "$value" && pwd)") ;;
    --*) args+=("$name" "$value") ;;
  esac
done

cd "$REPO"
exec node --import tsx "$REPO/src/cli/main.ts" devnet ${args[@]+"${args[@]}"}
