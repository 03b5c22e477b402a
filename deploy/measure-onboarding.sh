#!/bin/bash
# Times the operator steps of docs/operators.md ("Onboarding, measured") after the build:
# a devnet stands for the network (a scheduler and a verifier); then operator init, funding
# from its alice, the unit's ExecStart, and nodes show until the first capacity challenge
# passed. VCITY=path/to/vcity overrides the binary on PATH.
set -euo pipefail
V=${VCITY:-vcity}
W=$(mktemp -d)
trap 'kill ${NODE:-} ${DEVNET:-} 2>/dev/null; rm -rf "$W"' EXIT

$V --json --home $W/net devnet --listen 127.0.0.1:0 --compute-nodes 0 --schedulers 1 --verifiers 1 > $W/devnet.out 2>$W/devnet.err &
DEVNET=$!
for i in $(seq 1 100); do grep -q '"api"' $W/devnet.out 2>/dev/null && break; sleep 0.2; done
API=$(head -1 $W/devnet.out | python3 -c 'import json,sys; print(json.load(sys.stdin)["api"])')
echo "network at $API"
T0=$(date +%s.%N)
$V --home $W/op --node $API operator init --role compute --key op --listen 127.0.0.1:0 --region eu-west --unit-dir $W/units --yes > $W/init.out || true
T1=$(date +%s.%N)
ACCOUNT=$($V --json --home $W/op keys show op | python3 -c 'import json,sys; print(json.load(sys.stdin)["account"])')
$V --home $W/net --node $API tx transfer --from alice --to $ACCOUNT --amount 2000 --denom vcai > /dev/null
$V --home $W/net --node $API tx transfer --from alice --to $ACCOUNT --amount 100 --denom usd > /dev/null
T2=$(date +%s.%N)
EXEC=$(grep '^ExecStart=' $W/units/vcity-compute.service | sed 's/^ExecStart=//')
(cd $W/op && RUST_LOG=info eval exec $EXEC) > $W/node.log 2>&1 &
NODE=$!
REG=""
while true; do
  NOW=$(date +%s.%N)
  VIEW=$($V --json --home $W/op --node $API nodes show $ACCOUNT 2>/dev/null || true)
  if [ -z "$REG" ] && echo "$VIEW" | grep -q '"online": *true'; then REG=$NOW; fi
  if echo "$VIEW" | python3 -c 'import json,sys; v=json.load(sys.stdin); sys.exit(0 if v["node"]["trust"]["challenges_passed"]>=1 and not v["node"]["trust"]["probation"] else 1)' 2>/dev/null; then PASSED=$NOW; break; fi
  if python3 -c "import sys; sys.exit(0 if $NOW - $T2 > 600 else 1)"; then echo "timed out"; break; fi
  sleep 0.5
done
python3 - <<PY
t0,t1,t2,reg,passed=$T0,$T1,$T2,${REG:-0},${PASSED:-0}
print(f"operator init (host checks, config, key, unit): {t1-t0:.1f} s")
print(f"funding (two transfers): {t2-t1:.1f} s")
print(f"start to registered and online: {reg-t2:.1f} s")
print(f"start to first capacity challenge passed (probation over): {passed-t2:.1f} s")
print(f"init to challenge passed: {passed-t0:.1f} s")
PY
$V --home $W/op --node $API operator status --key op
kill $NODE $DEVNET 2>/dev/null || true
