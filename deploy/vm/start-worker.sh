#!/usr/bin/env bash
# Join this host to a raycurator cluster, by hand (no `ray up`).
#   deploy/vm/start-worker.sh 10.0.0.10:6379 10.0.0.11
set -euo pipefail
ADDRESS=${1:?usage: start-worker.sh HEAD_IP:PORT [THIS_HOST_IP]}
NODE_IP=${2:-}
ray start --address="$ADDRESS" ${NODE_IP:+--node-ip-address="$NODE_IP"} --disable-usage-stats
