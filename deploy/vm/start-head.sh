#!/usr/bin/env bash
# Start the head of a raycurator cluster on this host, by hand (no `ray up`).
#   deploy/vm/start-head.sh 10.0.0.10
# Ray's token authentication (its default) protects the cluster: copy the token file it prints
# (~/.ray/auth_token) to every worker host, or set RAY_AUTH_TOKEN there.
set -euo pipefail
HEAD_IP=${1:?usage: start-head.sh HEAD_IP}
ray start --head --node-ip-address="$HEAD_IP" --port=6379 --num-cpus=0 --disable-usage-stats
echo "workers: deploy/vm/start-worker.sh $HEAD_IP:6379 <this worker's IP>"
echo "run:     RAY_ADDRESS=$HEAD_IP:6379 raycurator run PIPELINE.yaml --working-dir DIR_OF_YOUR_CODE"
