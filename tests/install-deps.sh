#!/usr/bin/env bash
# Installs the Debian 12 packages lowi-p1 needs to build, run and test,
# plus any package named on the command line (the fuzzers', sanitizers' and
# benchmarks' own: tests/install-deps.sh clang valgrind ...).
# Packages already present are left alone; nothing is started: package
# scripts are told not to start mosquitto or MariaDB as system services
# (the tests and the demo run private instances on loopback ports).
set -eu

packages=(
	# build
	gcc meson ninja-build pkg-config
	mosquitto-dev libmosquitto-dev libmariadb-dev libjansson-dev libcurl4-openssl-dev
	# run: the broker and the database
	mosquitto mosquitto-clients mariadb-server mariadb-client
	# tests and demo
	faketime python3 python3-paho-mqtt python3-pymysql
	# Home Assistant's template engine, for tests/unit/check_ha_discovery.py
	python3-jinja2
	# tests/integration/test_pictures.py: the dashboard's provisioning
	# files, and the HTML report rendered headless
	python3-yaml chromium
	# tests/integration/test_galera.py: a three-node Galera cluster, whose
	# state transfers use rsync and look up their ports with ss
	galera-4 rsync iproute2
	"$@"
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
# policy-rc.d (exit 101) keeps package scripts from starting system services.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	created_policy=1
fi
trap '[ $created_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
