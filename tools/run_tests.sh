#!/usr/bin/env bash
# Run the whole legacy-rpc test suite from a clean clone: the one command for developers
# and CI.
#
#   tools/run_tests.sh [--no-lint] [PYTEST_ARGS...]
#
# Steps: pick a Python >= 3.10, create/reuse .venv in the repo, install the package
# editable with the test, rabbit, amqp1, zmq and interop extras, make sure RabbitMQ is
# reachable (starting or installing it when possible) with its management and AMQP 1.0
# plugins enabled and that Redis runs on 127.0.0.1:6379 (zmq matchmaker), then
# run `ruff check .`, `mypy` and finally pytest, whose
# summary line is the last thing printed. Exits non-zero if any step failed; pytest is
# run even when lint failed. Pytest's "no tests collected" (exit 5) is a failure.
#
# Environment:
#   PYTHON                       interpreter used to create .venv (default: python3)
#   LEGACY_RPC_RABBIT_HOST/PORT  RabbitMQ to use (default 127.0.0.1:5672)
#   LEGACY_RPC_RABBIT_URL        transport URL given to the tests
#                                (default rabbit://guest:guest@HOST:PORT/)
#   LEGACY_RPC_RABBIT_API_URL    its management API (default http://HOST:15672/api/)
#   LEGACY_RPC_REQUIRE_BROKERS   1: an unreachable broker (or plugin that cannot be
#                                enabled) is an error (CI sets it)
#   LEGACY_RPC_START_BROKERS     0: never start or install a local RabbitMQ
#   LEGACY_RPC_FORCE_INSTALL     1: re-run pip install even if pyproject.toml is unchanged
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 2
}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

# ------------------------------------------------------------------ arguments
lint=1
pytest_args=()
for arg in "$@"; do
    case "$arg" in
        --no-lint) lint=0 ;;
        *) pytest_args+=("$arg") ;;
    esac
done

# ------------------------------------------------------------------ python
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null 2>&1 || die "Python interpreter '$PYTHON' not found (set PYTHON=/path/to/python3.10+)"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    die "legacy-rpc needs Python >= 3.10, but '$PYTHON' is $("$PYTHON" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo unknown); set PYTHON=/path/to/python3.10+"
fi

# ------------------------------------------------------------------ virtualenv
VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
venv_ok() {
    [ -x "$VPY" ] && "$VPY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null
}
if ! venv_ok; then
    if [ -e "$VENV" ]; then
        log "recreating broken or too old virtualenv $VENV"
        "$PYTHON" -m venv --clear "$VENV" || die "could not recreate $VENV with $PYTHON -m venv"
    else
        log "creating virtualenv $VENV with $("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
        "$PYTHON" -m venv "$VENV" || die "could not create $VENV with $PYTHON -m venv (is the venv module installed?)"
    fi
fi

# Reinstall when the packaging metadata changed (entry points live in the installed
# metadata) or when asked; otherwise the editable install is still current.
STAMP="$VENV/.legacy-rpc-install-stamp"
INSTALL_LOG="$VENV/install.log"
stamp_value=$(cat pyproject.toml setup.py 2>/dev/null | "$VPY" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if [ "${LEGACY_RPC_FORCE_INSTALL:-0}" = 1 ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$stamp_value" ]; then
    log "installing legacy-rpc (editable) with extras test,rabbit,amqp1,zmq,interop (log: $INSTALL_LOG)"
    rm -f "$STAMP"
    start=$SECONDS
    if ! "$VPY" -m pip install -e '.[test,rabbit,amqp1,zmq,interop]' >"$INSTALL_LOG" 2>&1; then
        cat "$INSTALL_LOG" >&2
        die "pip install -e '.[test,rabbit,amqp1,zmq,interop]' failed (output above, also in $INSTALL_LOG)"
    fi
    printf '%s\n' "$stamp_value" >"$STAMP"
    log "installed in $((SECONDS - start))s"
else
    log "reusing $VENV (packaging unchanged; LEGACY_RPC_FORCE_INSTALL=1 to reinstall)"
fi
# oslo.messaging's own test suite, run by tests/interop/test_oslo_conformance.py, needs these.
if ! "$VPY" -c 'import oslotest, testscenarios' 2>/dev/null; then
    log "installing oslotest and testscenarios (for oslo.messaging's own tests)"
    "$VPY" -m pip install 'oslotest>=5' 'testscenarios>=0.5' >>"$INSTALL_LOG" 2>&1 \
        || die "pip install oslotest testscenarios failed (see $INSTALL_LOG)"
fi

# ------------------------------------------------------------------ brokers
RABBIT_HOST=${LEGACY_RPC_RABBIT_HOST:-127.0.0.1}
RABBIT_PORT=${LEGACY_RPC_RABBIT_PORT:-5672}
export LEGACY_RPC_RABBIT_URL=${LEGACY_RPC_RABBIT_URL:-rabbit://guest:guest@$RABBIT_HOST:$RABBIT_PORT/}
# Check the host/port the tests will really use (the URL may have been given directly).
read -r RABBIT_HOST RABBIT_PORT < <("$VPY" - "$LEGACY_RPC_RABBIT_URL" <<'EOF'
import sys
from urllib.parse import urlsplit

first = urlsplit(sys.argv[1]).netloc.split(",")[0]
parts = urlsplit("//" + first)
print(parts.hostname or "127.0.0.1", parts.port or 5672)
EOF
) || die "cannot parse a host and port from LEGACY_RPC_RABBIT_URL"

reachable() { # host port
    "$VPY" - "$1" "$2" <<'EOF'
import socket
import sys

try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError:
    sys.exit(1)
EOF
}

wait_reachable() { # host port seconds
    local deadline=$((SECONDS + $3))
    while [ "$SECONDS" -lt "$deadline" ]; do
        reachable "$1" "$2" && return 0
        sleep 1
    done
    reachable "$1" "$2"
}

rabbit_server_cmd() {
    command -v rabbitmq-server 2>/dev/null && return 0
    [ -x /usr/sbin/rabbitmq-server ] && echo /usr/sbin/rabbitmq-server && return 0
    return 1
}

start_rabbit() {
    local server ctl
    server=$(rabbit_server_cmd) || return 1
    ctl="$(dirname "$server")/rabbitmqctl"
    log "starting RabbitMQ: $server -detached"
    "$server" -detached >"$VENV/rabbitmq-start.log" 2>&1 || warn "rabbitmq-server -detached failed: $(tail -n 5 "$VENV/rabbitmq-start.log")"
    if [ -x "$ctl" ]; then
        timeout 120 "$ctl" await_startup >>"$VENV/rabbitmq-start.log" 2>&1 || warn "rabbitmqctl await_startup did not succeed (see $VENV/rabbitmq-start.log)"
    fi
    wait_reachable "$RABBIT_HOST" "$RABBIT_PORT" 30
}

if reachable "$RABBIT_HOST" "$RABBIT_PORT"; then
    log "RabbitMQ reachable at $RABBIT_HOST:$RABBIT_PORT"
else
    case "$RABBIT_HOST" in
        127.0.0.1 | localhost | ::1) local_rabbit=1 ;;
        *) local_rabbit=0 ;;
    esac
    if [ "${LEGACY_RPC_START_BROKERS:-1}" != 0 ] && [ "$local_rabbit" = 1 ] \
        && [ "$RABBIT_PORT" = "${RABBITMQ_NODE_PORT:-5672}" ]; then
        if ! rabbit_server_cmd >/dev/null; then
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
                log "rabbitmq-server missing: installing it with apt-get"
                # Keep policy-rc.d's decision; we start the server ourselves below.
                if ! { apt-get update -qq \
                    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server; } \
                    >"$VENV/apt-rabbitmq.log" 2>&1; then
                    warn "apt-get install rabbitmq-server failed: $(tail -n 5 "$VENV/apt-rabbitmq.log")"
                fi
            else
                warn "rabbitmq-server is not installed and we cannot install it (need root and apt-get)"
            fi
        fi
        if rabbit_server_cmd >/dev/null && ! reachable "$RABBIT_HOST" "$RABBIT_PORT"; then
            start_rabbit || true
        fi
    fi
    if reachable "$RABBIT_HOST" "$RABBIT_PORT"; then
        log "RabbitMQ reachable at $RABBIT_HOST:$RABBIT_PORT"
    elif [ "${LEGACY_RPC_REQUIRE_BROKERS:-0}" = 1 ]; then
        die "RabbitMQ is not reachable at $RABBIT_HOST:$RABBIT_PORT and LEGACY_RPC_REQUIRE_BROKERS=1; start it (rabbitmq-server -detached) or point LEGACY_RPC_RABBIT_URL at one"
    else
        warn "RabbitMQ is not reachable at $RABBIT_HOST:$RABBIT_PORT: broker tests will be skipped (LEGACY_RPC_REQUIRE_BROKERS=1 makes this an error)"
    fi
fi

# ------------------------------------------------------------------ Redis
# The zmq driver's matchmaker (contract suite, tests/zmq) uses Redis on 127.0.0.1:6379.
REDIS_PORT=6379
if reachable 127.0.0.1 "$REDIS_PORT"; then
    log "Redis reachable at 127.0.0.1:$REDIS_PORT"
elif [ "${LEGACY_RPC_START_BROKERS:-1}" != 0 ] && command -v redis-server >/dev/null 2>&1; then
    log "starting redis-server on 127.0.0.1:$REDIS_PORT"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes >"$VENV/redis-start.log" 2>&1 \
        || warn "redis-server failed to start: $(tail -n 3 "$VENV/redis-start.log")"
    wait_reachable 127.0.0.1 "$REDIS_PORT" 30 || true
fi
if ! reachable 127.0.0.1 "$REDIS_PORT"; then
    if [ "${LEGACY_RPC_REQUIRE_BROKERS:-0}" = 1 ]; then
        die "Redis is not reachable at 127.0.0.1:$REDIS_PORT and LEGACY_RPC_REQUIRE_BROKERS=1 (install redis-server)"
    fi
    warn "Redis is not reachable at 127.0.0.1:$REDIS_PORT: zmq tests will be skipped"
fi

# ------------------------------------------------------------------ broker plugins
# tests/infra's inspector reads the management API, and the amqp1 driver's tests need
# AMQP 1.0: enable both plugins on a local broker that lacks them (--online: no restart),
# then wait until the management port answers.
RABBIT_PLUGINS=(rabbitmq_management rabbitmq_amqp1_0)
MGMT_URL=${LEGACY_RPC_RABBIT_API_URL:-http://$RABBIT_HOST:15672/api/}
read -r MGMT_HOST MGMT_PORT < <("$VPY" - "$MGMT_URL" <<'EOF'
import sys
from urllib.parse import urlsplit

parts = urlsplit(sys.argv[1])
print(parts.hostname or "127.0.0.1", parts.port or 15672)
EOF
) || die "cannot parse a host and port from LEGACY_RPC_RABBIT_API_URL"

plugin_trouble() { # message
    if [ "${LEGACY_RPC_REQUIRE_BROKERS:-0}" = 1 ]; then
        die "$1 (LEGACY_RPC_REQUIRE_BROKERS=1)"
    fi
    warn "$1: tests that need these plugins will be skipped"
}

enable_rabbit_plugins() {
    local cmd enabled missing=() plugin
    cmd=$(command -v rabbitmq-plugins 2>/dev/null) \
        || { [ -x /usr/sbin/rabbitmq-plugins ] && cmd=/usr/sbin/rabbitmq-plugins; } \
        || { plugin_trouble "rabbitmq-plugins not found, cannot enable ${RABBIT_PLUGINS[*]}"; return 0; }
    if ! enabled=$("$cmd" -q list -e -m 2>"$VENV/rabbitmq-plugins.log"); then
        plugin_trouble "rabbitmq-plugins list failed: $(tail -n 3 "$VENV/rabbitmq-plugins.log")"
        return 0
    fi
    for plugin in "${RABBIT_PLUGINS[@]}"; do
        grep -qx "$plugin" <<<"$enabled" || missing+=("$plugin")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "enabling RabbitMQ plugins: ${missing[*]}"
        if ! "$cmd" enable --online "${missing[@]}" >"$VENV/rabbitmq-plugins.log" 2>&1; then
            plugin_trouble "rabbitmq-plugins enable --online ${missing[*]} failed: $(tail -n 5 "$VENV/rabbitmq-plugins.log")"
            return 0
        fi
    fi
    if wait_reachable "$MGMT_HOST" "$MGMT_PORT" 60; then
        log "RabbitMQ management API reachable at $MGMT_HOST:$MGMT_PORT"
    else
        plugin_trouble "the RabbitMQ management API did not answer at $MGMT_HOST:$MGMT_PORT within 60 s"
    fi
}

case "$RABBIT_HOST" in
    127.0.0.1 | localhost | ::1)
        if reachable "$RABBIT_HOST" "$RABBIT_PORT"; then
            enable_rabbit_plugins
        fi
        ;;
    *) log "RabbitMQ at $RABBIT_HOST is not local: not enabling plugins on it" ;;
esac

# ------------------------------------------------------------------ lint
failed=()
if [ "$lint" = 1 ]; then
    log "ruff check ."
    "$VENV/bin/ruff" check . || failed+=("ruff")
    log "mypy"
    "$VPY" -m mypy || failed+=("mypy")
    if [ "${#failed[@]}" -gt 0 ]; then
        warn "lint failed (${failed[*]}); running the tests anyway, the run will fail"
    fi
else
    log "skipping ruff and mypy (--no-lint)"
fi

# ------------------------------------------------------------------ tests (last)
log "python -m pytest ${pytest_args[*]+${pytest_args[*]}}"
set +e
"$VPY" -m pytest ${pytest_args[@]+"${pytest_args[@]}"}
rc=$?
set -e

# Print nothing after pytest so its summary line stays the last line of output.
if [ "$rc" -ne 0 ]; then
    # 5 = no tests collected: counts as a failure too.
    exit "$rc"
fi
if [ "${#failed[@]}" -gt 0 ]; then
    exit 1
fi
exit 0
