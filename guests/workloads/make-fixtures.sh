#!/bin/sh
# make-fixtures.sh -- run every workload under QEMU with the arguments in
# fixtures/workloads/<name>.args and save its output, minus the "time "
# lines, as fixtures/workloads/<name>.out. Fails if a workload fails.
set -e
cd "$(dirname "$0")/../.."
sh guests/workloads/build.sh
for args in fixtures/workloads/*.args; do
  name=$(basename "$args" .args)
  set +e
  sh guests/workloads/run-qemu.sh "$name" "$(cat "$args")" > /tmp/wl-$name.raw
  rc=$?
  set -e
  if [ $rc -ne 1 ]; then
    echo "$name: FAILED (qemu exit $rc)" >&2
    cat /tmp/wl-$name.raw >&2
    exit 1
  fi
  grep -v '^time ' /tmp/wl-$name.raw > fixtures/workloads/$name.out
  echo "$name: ok"
  cat /tmp/wl-$name.raw
  rm -f /tmp/wl-$name.raw
done
