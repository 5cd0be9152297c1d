#!/usr/bin/env bash
# ticker.sh LABEL COMMAND...: run COMMAND, printing a line every few seconds while it is quiet,
# so a long step (pip unpacking numpy, mypyc compiling) never looks hung. Exits with its status.
set -uo pipefail
label=$1
shift
start=$SECONDS
"$@" &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
    for _ in 1 2 3 4 5 6; do
        sleep 1
        kill -0 "$pid" 2>/dev/null || break 2
    done
    echo "  ... $label: $((SECONDS - start)) s"
done
wait "$pid"
status=$?
echo "  $label: done in $((SECONDS - start)) s"
exit $status
