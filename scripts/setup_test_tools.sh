#!/usr/bin/env bash
# Install what tests/test_loihi_submit.py needs (a real ssh server on 127.0.0.1 and rsync):
# Debian's openssh-server and rsync, with apt-get, when they are missing and this machine allows
# it (root, or passwordless sudo). Never fails: where it cannot install them it prints one line
# why, and that test is skipped. LAVA_DS2TA_NO_APT=1 turns the installation off.
set -uo pipefail

need=""
[ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null 2>&1 || need="openssh-server"
command -v rsync >/dev/null 2>&1 || need="$need rsync"
need="${need# }"
[ -n "$need" ] || exit 0

skip() { echo "setup: $need not installed ($1); the ssh submission test will be skipped" >&2; exit 0; }

[ "${LAVA_DS2TA_NO_APT:-0}" = 1 ] && skip "LAVA_DS2TA_NO_APT=1"
command -v apt-get >/dev/null 2>&1 || skip "no apt-get on this machine"
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    SUDO="sudo -n"
else
    skip "not root and no passwordless sudo"
fi
echo "setup: installing $need with apt-get (for the ssh submission test)" >&2
install() {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        $need >/dev/null 2>&1
}
# A fresh machine may have no package lists yet: update them only when the install needs it.
install || { $SUDO apt-get update -q >/dev/null 2>&1 && install; } || skip "apt-get install failed"
exit 0
