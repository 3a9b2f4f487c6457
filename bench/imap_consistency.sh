#!/bin/sh
# Long runs of the IMAP consistency checker (issue 14): 10 and 50
# clients for minutes, in one daemon and in two daemons on one mail root,
# several seeds.  Run from the build directory (or set RMAIL_BIN and
# RMAIL_MODULE_DIR); figures go to stdout and to imap_consistency.txt.
#
#	bench/imap_consistency.sh [seconds] [seeds...]
#
# CLIENTS="10" and DAEMONS="2" narrow the matrix; IMAP_CHECK_ARGS adds
# checker options, e.g. "--no-logout" (every client
# logged in for the whole run) or "--trace t.txt" to replay a finding.
# The QRESYNC long run (issue 19): IMAP_CHECK_ARGS="--qresync
# --checkpoint 2" (a resync checked every checkpoint; the later
# --checkpoint wins).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
seeds=${*:-"1 2 3"}
: "${RMAIL_BIN:=$PWD/rmail}"
: "${RMAIL_MODULE_DIR:=$PWD/modules}"
RMAIL_SOURCE_DIR=$src
export RMAIL_BIN RMAIL_MODULE_DIR RMAIL_SOURCE_DIR
out=${OUT:-imap_consistency.txt}
rc=0
for clients in ${CLIENTS:-10 50}; do
	for daemons in ${DAEMONS:-1 2}; do
		for seed in $seeds; do
			python3 "$src/tests/consistency/imap_check.py" \
				--seed "$seed" --clients "$clients" \
				--seconds "$secs" --daemons "$daemons" \
				--quiet 1.5 --checkpoint 10 \
				--max-messages $((clients * 4)) \
				--timeout 60 --out "$out" \
				${IMAP_CHECK_ARGS:-} || rc=1
		done
	done
done
exit $rc
