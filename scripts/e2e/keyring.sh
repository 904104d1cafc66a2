#!/bin/sh
# End-to-end test of the Secret Service password lookup against a real gnome-keyring, headless.
#
# Needs: dbus-run-session (dbus), gnome-keyring-daemon (gnome-keyring), secret-tool
# (libsecret-tools), cargo. On Debian: apt-get install -y dbus gnome-keyring libsecret-tools
#
# It starts a private D-Bus session, unlocks a throw-away login keyring kept in a temp HOME,
# stores the password the way msmtp's documentation says (secret-tool store --label=msmtp host H
# service smtp user U), and runs the ignored test `keyring_real_secret_service` of tests/surface.rs
# inside that session (postie, and msmtp if installed, must authenticate with it). The daemon
# and the bus end with the session; nothing outside the temp HOME is touched.
#
# Usage: scripts/e2e/keyring.sh            (from the repository root; exit status = test result)
set -eu
for tool in dbus-run-session gnome-keyring-daemon secret-tool cargo; do
    command -v "$tool" >/dev/null 2>&1 || { echo "keyring.sh: $tool not installed" >&2; exit 2; }
done
# Build first, outside the throw-away HOME (cargo and rustup live under the real one).
cargo test --test surface --no-run >/dev/null 2>&1 || cargo test --test surface --no-run
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export KEYRING_TMP="$tmp"
# The session gets its own HOME so the keyring files land in the temp dir; cargo and rustup keep
# theirs.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
status=0
dbus-run-session -- sh -eu -c '
    export HOME="$KEYRING_TMP" XDG_DATA_HOME="$KEYRING_TMP/data" XDG_RUNTIME_DIR="$KEYRING_TMP/run"
    export XDG_CONFIG_HOME="$KEYRING_TMP/config" XDG_CACHE_HOME="$KEYRING_TMP/cache"
    mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
    chmod 700 "$XDG_RUNTIME_DIR"
    printf "unlock-pw" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    printf "sekret" | secret-tool store --label=msmtp host 127.0.0.1 service smtp user joe
    test "$(secret-tool lookup host 127.0.0.1 service smtp user joe)" = sekret
    cargo test --test surface keyring_real_secret_service -- --ignored --exact
' >"$tmp/out" 2>&1 || status=$?
# dbus-daemon warns when it may not raise its fd limit (containers); that is harmless.
grep -v "Failed to set fd limit" "$tmp/out" || true
exit "$status"
