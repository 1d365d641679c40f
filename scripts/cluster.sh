#!/usr/bin/env bash
# Local form-state cluster on 127.0.0.1, for development only.
#
#   scripts/cluster.sh up [N]   start N nodes (default 3) + a token issuer, print URLs and an admin token
#   scripts/cluster.sh status   which processes run; each node's digest and connected peers
#   scripts/cluster.sh down     stop them (SIGTERM, then SIGKILL after 10 s)
#   scripts/cluster.sh clean    down, then delete .cluster/ (data, keys, logs)
#
# Layout: .cluster/cluster.key (shared, mode 0600), .cluster/issuer/, .cluster/node-<i>/
# (data dir, log, pid). Ports: HTTP $FS_HTTP_BASE+i (default 8101..), p2p $FS_P2P_BASE+i
# (default 4101..), issuer $FS_ISSUER_PORT (default 8100). Every node bootstraps from
# every other one.
#
# Tokens: nodes never mint tokens. The issuer here is a `formstate devnet` whose built-in
# issuer (/devnet/token) signs RS256 JWTs for anyone who can reach it on 127.0.0.1, and
# the nodes trust it through OIDC discovery (--oidc-issuer). That is fine on a laptop and
# wrong anywhere else: a real cluster points --oidc-issuer (or --jwks-url) at your
# identity provider.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.cluster"
HTTP_BASE="${FS_HTTP_BASE:-8100}"
P2P_BASE="${FS_P2P_BASE:-4100}"
ISSUER_PORT="${FS_ISSUER_PORT:-8100}"
FORMSTATE=(node --import tsx "$ROOT/src/cli/main.ts")
PROJECT=proj_demo

alive () { [[ -f "$1/pid" ]] && kill -0 "$(cat "$1/pid")" 2>/dev/null; }

wait_http () { # url seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "cluster.sh: $1 did not answer within $2 s" >&2
  return 1
}

start_bg () { # dir, command...
  local d="$1"; shift
  # `cd; cmd &` (not `cd && cmd &`): $! must be the node process itself, not a subshell.
  (cd "$ROOT" || exit 1; nohup "$@" >"$d/log" 2>&1 & echo $! >"$d/pid")
}

up () {
  local n="${1:-3}"
  [[ "$n" =~ ^[1-9][0-9]?$ ]] || { echo "usage: cluster.sh up [N], N in 1..99" >&2; exit 2; }
  if compgen -G "$DIR/*/pid" >/dev/null; then
    for d in "$DIR"/*/; do alive "$d" && { echo "cluster.sh: already running (scripts/cluster.sh down first)" >&2; exit 1; }; done
  fi
  mkdir -p "$DIR/issuer"
  [[ -f "$DIR/cluster.key" ]] || "${FORMSTATE[@]}" cluster-key "$DIR/cluster.key"

  local issuer="http://127.0.0.1:$ISSUER_PORT"
  start_bg "$DIR/issuer" "${FORMSTATE[@]}" devnet --port "$ISSUER_PORT" --log-level warn
  wait_http "$issuer/devnet/.well-known/openid-configuration" 30

  local i j peers
  for ((i = 1; i <= n; i++)); do
    peers=""
    for ((j = 1; j <= n; j++)); do
      [[ $j -eq $i ]] || peers+="${peers:+,}/ip4/127.0.0.1/tcp/$((P2P_BASE + j))"
    done
    mkdir -p "$DIR/node-$i"
    start_bg "$DIR/node-$i" "${FORMSTATE[@]}" node \
      --data-dir "$DIR/node-$i/data" --port "$((HTTP_BASE + i))" --p2p-port "$((P2P_BASE + i))" \
      --cluster-key "$DIR/cluster.key" --oidc-issuer "$issuer/devnet" --operator-projects "$PROJECT" \
      ${peers:+--bootstrap "$peers"}
  done
  for ((i = 1; i <= n; i++)); do wait_http "http://127.0.0.1:$((HTTP_BASE + i))/health" 60; done

  local token
  token="$("${FORMSTATE[@]}" token --url "$issuer" --role admin --sub admin@demo --project-id "$PROJECT" --ttl 86400)"
  echo "$token" >"$DIR/admin.token"
  echo "form-state cluster: $n node(s), data under $DIR"
  for ((i = 1; i <= n; i++)); do
    echo "  node-$i  http://127.0.0.1:$((HTTP_BASE + i))  p2p /ip4/127.0.0.1/tcp/$((P2P_BASE + i))  $(sed -n 's/^form-state node //p' "$DIR/node-$i/log" | head -1)"
  done
  echo "  issuer  $issuer/devnet  (formstate token --url $issuer --role user --sub you@demo)"
  echo
  echo "admin token (24 h, also in .cluster/admin.token):"
  echo "$token"
  echo
  echo "curl -s http://127.0.0.1:$((HTTP_BASE + 1))/admin/replica -H \"authorization: Bearer \$(cat .cluster/admin.token)\""
}

status () {
  [[ -d "$DIR" ]] || { echo "no cluster (.cluster/ missing)"; return 0; }
  local token="" d name port
  [[ -f "$DIR/admin.token" ]] && token="$(cat "$DIR/admin.token")"
  for d in "$DIR"/issuer "$DIR"/node-*; do
    [[ -d "$d" ]] || continue
    name="$(basename "$d")"
    if ! alive "$d"; then echo "$name: stopped"; continue; fi
    port="$(grep -o '^http http://127.0.0.1:[0-9]*' "$d/log" | grep -o '[0-9]*$' | head -1 || true)"
    if [[ -z "$port" ]]; then echo "$name: running (pid $(cat "$d/pid"))"; continue; fi
    curl -fsS -m 3 "http://127.0.0.1:$port/admin/replica" -H "authorization: Bearer $token" 2>/dev/null \
      | node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>{if(s==="")process.exit(1);const r=JSON.parse(s);const up=r.members.filter(m=>m.connected&&!m.self).length;console.log(`'"$name"': running, digest ${String(r.digest).slice(0,16)}, ${up}/${r.members.length-1} peers connected, vv ${JSON.stringify(Object.values(r.version_vector))}, reader ${r.queue_reader}`)})' \
      || echo "$name: running (pid $(cat "$d/pid")), /admin/replica not answering"
  done
}

down () {
  [[ -d "$DIR" ]] || return 0
  local d pid t
  for d in "$DIR"/node-* "$DIR"/issuer; do
    [[ -f "$d/pid" ]] || continue
    if alive "$d"; then
      pid="$(cat "$d/pid")"
      kill -TERM "$pid"
      for ((t = 0; t < 100; t++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
      echo "stopped $(basename "$d") (pid $pid)"
    fi
    rm -f "$d/pid"
  done
}

case "${1:-}" in
  up) up "${2:-3}" ;;
  status) status ;;
  down) down ;;
  clean) down; rm -rf "$DIR"; echo "removed $DIR" ;;
  *) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
