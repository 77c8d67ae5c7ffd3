#!/usr/bin/env bash
# A Docker engine for the docker harness and its tests (`make docker-engine`).
# If an engine answers, nothing is done. As root: Debian's docker.io (and debootstrap, which builds the
# instance images' base where no image registry is reachable) is installed with apt when missing, and
# dockerd is started in the background, its log in /var/log/cookbook-dockerd.log; this waits until it
# answers. Elsewhere it says what to do. Never stops an engine.
set -euo pipefail

answers() { command -v docker >/dev/null && timeout 10 docker version >/dev/null 2>&1; }

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "docker-engine: installing ${missing[*]} (apt)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi

if answers; then
    echo "docker-engine: a Docker engine answers ($(docker version --format '{{.Server.Version}}'))"
    exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null; then
    echo "docker-engine: no Docker engine answers. Start one: Docker Desktop (macOS, Windows), or" \
         "'sudo systemctl start docker' / 'sudo dockerd &' (Linux; as root, 'make docker-engine' installs" \
         "Debian's docker.io and starts it)." >&2
    exit 1
fi

echo "docker-engine: starting dockerd (log: /var/log/cookbook-dockerd.log)"
setsid nohup dockerd >/var/log/cookbook-dockerd.log 2>&1 </dev/null &
for _ in $(seq 1 60); do
    if answers; then
        echo "docker-engine: dockerd answers ($(docker version --format '{{.Server.Version}}'))"
        exit 0
    fi
    sleep 1
done
echo "docker-engine: dockerd did not answer within 60 s; see /var/log/cookbook-dockerd.log:" >&2
tail -20 /var/log/cookbook-dockerd.log >&2
exit 1
