#!/usr/bin/env bash
# The multi-host test bed by hand (root only): network namespaces on this
# machine, a head and N nodes on one bridge, addresses 198.18.0.1 (head)
# and 198.18.0.11, .12, ... (nodes). See docs/scaling.md.
#
#   scripts/netlab.sh up [--nodes N] [--delay MS] [--jitter MS] [--loss PERCENT]
#   scripts/netlab.sh run HOST COMMAND [ARG...]    HOST: head, node1, node2, ...
#   scripts/netlab.sh cut|mend HOST                its link down or up
#   scripts/netlab.sh rtt HOST                     its TCP round trip to the head (ms)
#   scripts/netlab.sh status
#   scripts/netlab.sh down                         removes it, and what runs in it
#   scripts/netlab.sh test [FILTER]                the netlab test suite
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = test ]; then
    shift
    exec cargo test --release --workspace --test netlab -- "$@"
fi
bin=target/release/faas-netlab
[ -x "$bin" ] || cargo build --release --workspace
exec "$bin" "$@"
