#!/bin/sh
# Runs something against a real gnome-keyring Secret Service, headless.
#
# Needs: dbus-run-session (dbus), gnome-keyring-daemon (gnome-keyring), secret-tool
# (libsecret-tools); cargo for the default mode. On Debian: apt-get install -y dbus gnome-keyring
# libsecret-tools (.ci/install-packages does).
#
# It starts a private D-Bus session, unlocks a throw-away login keyring kept in a temp HOME,
# stores a password the way msmtp's documentation says (secret-tool store --label=msmtp host H
# service smtp user U), and runs a command inside that session. The daemon and the bus end with
# the session; nothing outside the temp directory is touched.
#
# Usage (from the repository root):
#   scripts/e2e/keyring.sh
#       stores `sekret` for host 127.0.0.1 / user joe and runs the ignored test
#       `keyring_real_secret_service` of tests/surface.rs (postie, and msmtp if installed, must
#       authenticate with it against the scripted server).
#   scripts/e2e/keyring.sh run HOST USER SECRET -- COMMAND [ARGS...]
#       stores SECRET for HOST/USER and runs COMMAND in the session with this script's stdin,
#       stdout and stderr (the bus's own chatter goes to a log instead). scripts/e2e/run uses
#       this to send through the real Postfix with the password only in the keyring.
#
# Exit status: the test's or COMMAND's; 2 if a tool is missing; 3 if the keyring could not be
# started, unlocked or written (the reason is printed; under CI this is a failure, not a skip).
set -eu
mode=test
if [ "${1:-}" = run ]; then
    [ $# -ge 6 ] && [ "$5" = -- ] || {
        echo "usage: keyring.sh run HOST USER SECRET -- COMMAND [ARGS...]" >&2
        exit 64
    }
    mode=run
    KR_HOST=$2 KR_USER=$3 KR_SECRET=$4
    shift 5
else
    KR_HOST=127.0.0.1 KR_USER=joe KR_SECRET=sekret
fi
export KR_HOST KR_USER KR_SECRET
tools="dbus-run-session gnome-keyring-daemon secret-tool"
[ "$mode" = test ] && tools="$tools cargo"
for tool in $tools; do
    command -v "$tool" >/dev/null 2>&1 || { echo "keyring.sh: $tool not installed" >&2; exit 2; }
done
if [ "$mode" = test ]; then
    # Build first, outside the throw-away HOME (cargo and rustup live under the real one).
    cargo test --test surface --no-run >/dev/null 2>&1 || cargo test --test surface --no-run
    export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
    set -- cargo test --test surface keyring_real_secret_service -- --ignored --exact
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export KEYRING_TMP="$tmp"
status=0
# Inside the session: fd 3 is this script's stderr (the session's own stderr, which the bus and
# the keyring daemon also write to, goes to a log). The session gets its own HOME so the
# keyring files land in the temp dir.
dbus-run-session -- sh -u -c '
    fail() { echo "keyring.sh: $*" >&3; tail -n 20 "$KEYRING_TMP/session.log" >&3; exit 3; }
    export HOME="$KEYRING_TMP" XDG_DATA_HOME="$KEYRING_TMP/data" XDG_RUNTIME_DIR="$KEYRING_TMP/run"
    export XDG_CONFIG_HOME="$KEYRING_TMP/config" XDG_CACHE_HOME="$KEYRING_TMP/cache"
    mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
    chmod 700 "$XDG_RUNTIME_DIR"
    printf "unlock-pw" | gnome-keyring-daemon --unlock --components=secrets >/dev/null ||
        fail "gnome-keyring-daemon could not be started and unlocked"
    printf "%s" "$KR_SECRET" |
        secret-tool store --label=msmtp host "$KR_HOST" service smtp user "$KR_USER" ||
        fail "secret-tool could not store the password (is the Secret Service running?)"
    [ "$(secret-tool lookup host "$KR_HOST" service smtp user "$KR_USER")" = "$KR_SECRET" ] ||
        fail "secret-tool lookup did not return the stored password"
    "$@" 2>&3 3>&-
' keyring "$@" 3>&2 2>"$tmp/session.log" || status=$?
if [ "$mode" = test ]; then
    # dbus-daemon warns when it may not raise its fd limit (containers); that is harmless.
    grep -v "Failed to set fd limit" "$tmp/session.log" >&2 || true
fi
exit "$status"
