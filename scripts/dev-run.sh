#!/bin/sh
# `make run`: build, write a development config on first use, create
# the demo user, and run rmail in the foreground on loopback ports.
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
BUILD=${BUILD:-build}
VAR=$TOP/var
CONF=$VAR/config.json
RMAIL=$TOP/$BUILD/rmail

scripts/deps.sh
cmake -S . -B "$BUILD" >/dev/null
# the daemon and the modules only: tests and fuzzers are `make test`'s
cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" \
	--target rmail rmail_modules

mkdir -p "$VAR/mail"
if [ ! -f "$CONF" ]; then
	cat >"$CONF" <<JSON
{
  "hostname": "mail.example.test",
  "mail_root": "$VAR/mail",
  "module_dir": "$TOP/$BUILD/modules",
  "modules": ["mod_shardstore", "mod_smtp", "mod_imap", "mod_exchange"],
  "tls": {"cert_file": null, "key_file": null},
  "smtp": {"listen": ["127.0.0.1:2525"],
           "submission_listen": ["127.0.0.1:2587"],
           "smtps_listen": ["127.0.0.1:2465"]},
  "imap": {"listen": ["127.0.0.1:1143"], "imaps_listen": ["127.0.0.1:1993"]},
  "exchange_api": {"listen": ["127.0.0.1:9002"],
                   "tls_listen": ["127.0.0.1:9003"]},
  "delivery": {"workers": 2}
}
JSON
	echo "wrote $CONF"
fi

# The demo user, once; an admin so postmaster mail and the API alias
# endpoints have an owner on a development instance.
PWFILE=$VAR/demo-password
if [ ! -s "$PWFILE" ] && "$RMAIL" --help 2>/dev/null |
   grep -q '^  user '; then
	PW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | cut -c1-16)
	if printf '%s\n' "$PW" | "$RMAIL" -c "$CONF" user add \
	   demo@example.test --admin --password-stdin >/dev/null; then
		umask 077
		printf '%s\n' "$PW" >"$PWFILE"
	else
		echo "dev-run: could not create the demo user" >&2
	fi
fi
if [ -s "$PWFILE" ]; then
	echo "demo user: demo@example.test password: $(cat "$PWFILE")"
else
	echo "demo user: none (this build has no \`rmail user\` command)"
fi

exec "$RMAIL" -c "$CONF" serve
