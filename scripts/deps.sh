#!/bin/sh
# Install the Debian packages the build and the tests need, only those
# that are missing, quietly.  Needs root (or sudo) only when something
# is missing.
set -eu

PKGS="libev-dev libssl-dev libjansson-dev libjwt-dev libglib2.0-dev
libcrypt-dev libargon2-dev libidn2-dev pkg-config cmake make gcc clang clang-format libclang-rt-14-dev
openssl curl swaks libnet-ssleay-perl libio-socket-ssl-perl isync python3
python3-yaml libunbound-dev dns-root-data libpsl-dev publicsuffix
python3-dkim opendkim opendkim-tools haproxy zlib1g-dev dovecot-core
dovecot-imapd nsd ldnsutils libcurl4-openssl-dev rspamd redis-server
sieve-connect libsqlite3-dev"

# Packages whose install would start a system service.  The tests start
# private instances of them; the system copy must never run.
SERVICES="opendkim haproxy dovecot nsd rspamd redis-server"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	     grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "deps: missing$missing; run as root to install them" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# a fresh machine may still be running its own apt-get: wait for the
# dpkg lock (up to 10 minutes) instead of failing at once
APT_LOCK="-o DPkg::Lock::Timeout=600"
# shellcheck disable=SC2086
$SUDO apt-get $APT_LOCK update -qq >/dev/null
# policy-rc.d answering 101 keeps invoke-rc.d (and so every package's
# postinst) from starting a service while we install
POLICY=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
	$SUDO chmod 755 "$POLICY"
	own_policy=1
fi
# shellcheck disable=SC2086
$SUDO apt-get $APT_LOCK install -y -qq --no-install-recommends $missing >/dev/null ||
	{ [ -n "$own_policy" ] && $SUDO rm -f "$POLICY"; exit 1; }
[ -n "$own_policy" ] && $SUDO rm -f "$POLICY"
# and it stays off at boot where systemd runs
if [ -d /run/systemd/system ]; then
	for s in $SERVICES; do
		$SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true
	done
fi
