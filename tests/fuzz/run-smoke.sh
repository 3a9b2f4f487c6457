#!/bin/sh
# run-smoke.sh BINARY SECONDS WORKDIR [CORPUS]: a short libFuzzer run
# that starts from the committed seed corpus when there is one.
set -eu
bin=$1 secs=$2 work=$3 corpus=${4:-}
mkdir -p "$work"
if [ -n "$corpus" ] && [ -d "$corpus" ]; then
	exec "$bin" -max_total_time="$secs" -rss_limit_mb=2048 \
		-print_final_stats=1 "$work" "$corpus"
fi
exec "$bin" -max_total_time="$secs" -rss_limit_mb=2048 \
	-print_final_stats=1 "$work"
