#!/usr/bin/env bash
# Ensure an open local registry (Debian's docker-registry, distribution 2.8) on
# 127.0.0.1:${HELPERS_REGISTRY_PORT:-5000}: no auth, filesystem storage under
# ${HELPERS_REGISTRY_DIR:-/var/lib/helpers-registry}, deletes enabled. dockerd
# treats 127.0.0.0/8 as insecure, so `docker push localhost:PORT/x:1` works over
# plain http. Called by bootstrap.sh --registry.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

PORT=${HELPERS_REGISTRY_PORT:-5000}
DATA_DIR=${HELPERS_REGISTRY_DIR:-/var/lib/helpers-registry}
WAIT_S=15

# Prints the HTTP status of GET /v2/, or 000 when nothing answers. Uses curl
# when present, else bash's /dev/tcp.
registry_status() {
    local url=http://127.0.0.1:$PORT/v2/
    if have curl; then
        curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$url" 2>/dev/null || true
        return 0
    fi
    (
        exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
        printf 'GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$PORT" >&3
        read -r -t 5 _ code _ <&3 || exit 1
        printf '%s' "$code"
    ) 2>/dev/null || printf '000'
}

# Exits 0 ("up"), 1 (nothing listens) or dies when something else answers.
check_port() {
    local status
    status=$(registry_status)
    case $status in
        200) return 0 ;;
        000 | "") return 1 ;;
        *) die "127.0.0.1:$PORT answers GET /v2/ with HTTP $status, not as an open registry" \
            "HELPERS_REGISTRY_PORT=$PORT" \
            "stop what listens there or set HELPERS_REGISTRY_PORT to a free port" ;;
    esac
}

write_config() {
    local file=$1
    cat >"$file" <<EOF
# Written by helpers dev_scripts/engine/start_registry.sh; rewritten each start.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $DATA_DIR
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$PORT
  headers:
    X-Content-Type-Options: [nosniff]
EOF
}

main() {
    local config logfile pid deadline
    if check_port; then
        say "registry: already up at 127.0.0.1:$PORT"
        return 0
    fi
    take_lock
    if check_port; then
        say "registry: already up at 127.0.0.1:$PORT"
        return 0
    fi
    have docker-registry || apt_install docker-registry
    check_port && { say "registry: up at 127.0.0.1:$PORT"; return 0; }
    mkdir -p "$DATA_DIR" 2>/dev/null && [[ -w $DATA_DIR ]] \
        || die "cannot write the registry storage" "$DATA_DIR" \
            "run as root or set HELPERS_REGISTRY_DIR to a writable directory"
    config=$HELPERS_STATE_DIR/registry-$PORT.yml
    logfile=$HELPERS_STATE_DIR/registry-$PORT.log
    write_config "$config"
    log "starting docker-registry on 127.0.0.1:$PORT (log: $logfile)"
    pid=$(start_detached "$logfile" docker-registry serve "$config")
    deadline=$((SECONDS + WAIT_S))
    until check_port; do
        pid_running "$pid" || die "docker-registry exited while starting" "$logfile" "read that log"
        ((SECONDS < deadline)) \
            || die "docker-registry did not answer within ${WAIT_S}s" "$logfile" "read that log"
        sleep 0.1
    done
    release_lock
    say "registry: started at 127.0.0.1:$PORT (pid $pid, storage $DATA_DIR, log: $logfile)"
}

main "$@"
