#!/usr/bin/env bash
# The package as a user meets it: a clean Debian 12 root made with
# mmdebstrap from Debian's package registry, the .deb installed there with
# apt, then the README's installation walk-through, command by command
# (tests/package/walkthrough.py reads them from the README), simulated LOWI
# readings, a Conso row, and the walk-through's removal.
#   sudo tests/package/clean-root.sh [lowi-p1_<version>_amd64.deb]
# Without an argument it builds the package first (tests/package/build.sh).
# Needs root (mmdebstrap, chroot, mount) and Debian's registry; ends with
# "N passed, N failed" and its wall time. Not in CI (README, "Tests").
#
# Inside the root, there being no systemd, the servers are started by hand
# as their units start them: mariadbd as the mysql user once the README's
# apt-get has installed mariadb-server; mosquitto as root with Debian's own
# /etc/mosquitto/mosquitto.conf (never edited here) at each "systemctl
# restart mosquitto". Three changes to what a user does, all for the test:
#  - the listener of step 1 is on a free loopback port, not on 1883 of
#    every interface, and MariaDB listens on a free loopback port;
#  - mosquitto runs under libfaketime (the faketime package, added to the
#    root), its clock 60 times as fast from 4 minutes before a quarter
#    boundary, so that a whole quarter is read within 20 s (a Conso row
#    needs readings around both its ends: README "How a reading becomes a
#    row");
#  - "sudo" is dropped (everything runs as root), apt is given -y, and the
#    dongle's password is typed on standard input.
set -u
cd "$(dirname "$0")/../.."
src=$PWD
start=$(date +%s)
label="clean root"
. tests/package/checks.sh
[ "$(id -u)" -eq 0 ] || { echo "clean-root: run as root (mmdebstrap, chroot, mount)" >&2; failed=1; finish; }
tests/install-deps.sh mmdebstrap debhelper dpkg-dev lintian || { failed=$((failed + 1)); finish; }

version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -n 1)
deb=${1:-}
if [ -z "$deb" ]; then
	deb=$src/build/package/lowi-p1_${version}_amd64.deb
	echo "--- building the package (tests/package/build.sh)"
	bash tests/package/build.sh "$src/build/package" >"$src/build/package-build.log" 2>&1
	rc=$?
	check "tests/package/build.sh: $(tail -n 1 "$src/build/package-build.log")" test "$rc" -eq 0
fi
check "the package to install: $deb" test -f "$deb"
[ -f "$deb" ] || finish

work=$(mktemp -d /tmp/lowi-clean-root.XXXXXX)
r=$work/root
pids=()
stop_pid() { # PID: SIGTERM, up to 30 s to end, then SIGKILL
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}
cleanup() {
	local pid m
	for pid in "${pids[@]}"; do stop_pid "$pid"; done
	for m in dev/shm proc; do
		mountpoint -q "$r/$m" 2>/dev/null && umount "$r/$m"
	done
	if grep -q " $r/" /proc/mounts; then
		echo "clean-root: still mounted under $r, left in place:" >&2
		grep " $r/" /proc/mounts >&2
	else
		rm -rf --one-file-system "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_root() { # COMMAND...: run in the root, with a clean environment
	chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Debian 12 from the registry this machine's apt uses.
sources=$(/usr/bin/python3 - <<'EOF'
import glob, re
out = []
def add(types, uris, suites):
    for t in types:
        for u in uris:
            for s in suites:
                if t == "deb" and re.fullmatch(r"bookworm(-updates|-security)?", s):
                    out.append(f"deb {u} {s} main")
for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        f = {}
        for line in stanza.splitlines():
            m = re.match(r"([A-Za-z-]+):\s*(.*)", line)
            if m:
                f[m.group(1).lower()] = m.group(2).split()
        if f.get("enabled", ["yes"])[0].lower() != "no":
            add(f.get("types", []), f.get("uris", []), f.get("suites", []))
for path in ["/etc/apt/sources.list"] + glob.glob("/etc/apt/sources.list.d/*.list"):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        w = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
        if len(w) >= 3:
            add([w[0]], [w[1]], [w[2]])
print("\n".join(dict.fromkeys(out)) or "deb http://deb.debian.org/debian bookworm main")
EOF
)
echo "--- mmdebstrap bookworm from:"
echo "$sources"
t=$(date +%s)
mapfile -t source_lines <<<"$sources"
mmdebstrap --mode=root --variant=apt --include=faketime bookworm "$r" "${source_lines[@]}" >"$work/mmdebstrap.log" 2>&1
check "mmdebstrap made a Debian 12 root ($(($(date +%s) - t)) s)" test -x "$r/usr/bin/apt"
[ -x "$r/usr/bin/apt" ] || { tail -n 20 "$work/mmdebstrap.log"; finish; }
check "the root is Debian 12" grep -q '^VERSION_CODENAME=bookworm' "$r/etc/os-release"
# No service starts from a package script (no systemd here, and the host's
# ports are not the root's to take).
printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
chmod 755 "$r/usr/sbin/policy-rc.d"
mount -t proc proc "$r/proc"
mount -t tmpfs tmpfs "$r/dev/shm"
in_root apt-get update -qq >"$work/apt-update.log" 2>&1
check "apt-get update in the root" test $? -eq 0
mkdir -p "$r/root/build/package"
cp "$deb" "$r/root/build/package/"

mqtt_port=$(free_port)
db_port=$(free_port)
dongle_password=dongle-$$
serial=0123456789ab
speed=60
libfaketime=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
broker_pid=''
broker_t0=''
fake_start=''

# systemctl restart mosquitto: the unit's ExecStartPre and ExecStart.
broker_restart() {
	local now boundary i
	[ -n "$broker_pid" ] && stop_pid "$broker_pid"
	in_root sh -c 'mkdir -m 740 -p /var/log/mosquitto && chown mosquitto /var/log/mosquitto &&
		mkdir -m 740 -p /run/mosquitto && chown mosquitto /run/mosquitto'
	now=$(date +%s)
	boundary=$(((now / 900 + 1) * 900))
	fake_start=$((boundary - 240))
	broker_t0=$(date +%s.%N)
	chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin TZ=UTC LD_PRELOAD="$libfaketime" \
		FAKETIME="@$(date -u -d "@$fake_start" '+%Y-%m-%d %H:%M:%S') x$speed" \
		/usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf >>"$work/mosquitto.out" 2>&1 &
	broker_pid=$!
	pids+=("$broker_pid")
	for i in $(seq 200); do
		port_open "$mqtt_port" && return 0
		kill -0 "$broker_pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$r/var/log/mosquitto/mosquitto.log" "$work/mosquitto.out" 2>/dev/null
	return 1
}

# The mariadb unit: mariadbd as mysql, /run/mysqld made first.
mariadb_start() {
	local uid gid i
	uid=$(in_root id -u mysql) && gid=$(in_root id -g mysql) || return 1
	in_root install -d -o mysql -g root -m 755 /run/mysqld
	chroot --userspec="$uid:$gid" --groups="$gid" "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		/usr/sbin/mariadbd --port="$db_port" --bind-address=127.0.0.1 >"$work/mariadbd.out" 2>&1 &
	pids+=("$!")
	for i in $(seq 600); do
		in_root mariadb -e 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	tail -n 20 "$work/mariadbd.out"
	return 1
}

# One LOWI reading of meter $serial at 3600 W import: its day counter
# moves 1 Wh per second of the broker's (fast) clock.
publish_reading() {
	local fake_elapsed cih
	fake_elapsed=$(awk -v t0="$broker_t0" -v now="$(date +%s.%N)" -v k="$speed" 'BEGIN { printf "%d", (now - t0) * k }')
	cih=$((5000000 + fake_elapsed))
	in_root mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -u lowi -P "$dongle_password" -q 1 -t "$serial/PUB/CH0" \
		-m "{\"ident\":\"$serial\",\"device_CH\":\"0\",\"PI\":\"3600\",\"PE\":\"0\",\"CIH\":\"$cih\",\"CIL\":\"137096\",\"CEH\":\"10976\",\"CEL\":\"3381\"}"
}

conso_row() {
	in_root mariadb -N -B -e "SELECT DATE_FORMAT(DtTm, '%Y-%m-%d %H:%i:%s'), Soutire, Estimated
		FROM P1.Conso WHERE Serial = '$serial' ORDER BY DtTm LIMIT 1" 2>/dev/null
}

# After step 4: readings until the first complete quarter is written.
readings_to_a_row() {
	local i row t
	t=$(date +%s)
	for i in $(seq 100); do
		grep -q 'lowi-p1: connected to MariaDB' "$r/var/log/mosquitto/mosquitto.log" && break
		sleep 0.2
	done
	check "the plugin connected to MariaDB (broker log)" \
		grep -q 'lowi-p1: connected to MariaDB' "$r/var/log/mosquitto/mosquitto.log"
	row=''
	# A reading every half second (30 s of the broker's clock); bounded by
	# 3 of its quarters, where one and a bit is enough.
	while [ -z "$row" ] && [ $(($(date +%s) - t)) -lt $((3 * 900 / speed)) ]; do
		publish_reading || echo "mosquitto_pub failed"
		row=$(conso_row)
		[ -z "$row" ] && sleep 0.5
	done
	echo "first Conso row after $(($(date +%s) - t)) s: ${row:-none}"
	check "a Conso row for meter $serial" test -n "$row"
	[ -n "$row" ] || { grep 'lowi-p1' "$r/var/log/mosquitto/mosquitto.log" | tail -n 20; return; }
	local day time soutire estimated dttm epoch
	read -r day time soutire estimated <<<"$row"
	dttm="$day $time"
	epoch=$(date -u -d "$dttm" +%s)
	check "its quarter ($dttm UTC) starts on a quarter boundary after the broker's clock started" \
		test $((epoch % 900)) -eq 0 -a "$epoch" -gt "$fake_start"
	# The readings' counters follow the broker's clock as estimated here,
	# 60 times the delay of each mosquitto_pub off: 0.1 s is 6 Wh.
	check "it books 3600 W for 15 minutes: Soutire $soutire kWh = 0.900 +- 0.020" \
		awk -v s="$soutire" 'BEGIN { exit !(s >= 0.880 && s <= 0.920) }'
	check "it is measured, not estimated" test "$estimated" = 0
}

# Step 2's check that readings arrive: the README's mosquitto_sub, for one
# message, while readings are published.
dongle_check() {
	local cmd=$1 sub i
	cmd=$(sed "s/'<password>'/'$dongle_password'/; s/-h localhost/-h 127.0.0.1 -p $mqtt_port/" <<<"$cmd")
	in_root sh -c "$cmd -C 1 -W 30" >"$work/sub.out" 2>&1 &
	sub=$!
	pids+=("$sub")
	for i in $(seq 60); do
		kill -0 "$sub" 2>/dev/null || break
		publish_reading >/dev/null 2>&1
		sleep 0.5
	done
	wait "$sub" 2>/dev/null
	cat "$work/sub.out"
	check "step 2: mosquitto_sub as the dongle's user sees its readings" grep -q "^$serial/PUB/CH0 {" "$work/sub.out"
}

# The walk-through, from the README.
/usr/bin/python3 tests/package/walkthrough.py README.md "$work/steps" || { failed=$((failed + 1)); finish; }
published=0
for step in "$work"/steps/*; do
	heading=$(sed -n '1s/^# //p' "$step")
	cmd=$(sed '1d' "$step")
	case "$step" in
	*.conf)
		path=$(sed -n '2s/^# path: //p' "$step")
		sed '1,2d' "$step" | sed "s/^listener 1883\$/listener $mqtt_port 127.0.0.1/" >"$r$path"
		echo "--- [$heading] wrote $path:"
		cat "$r$path"
		check "[$heading] $path listens on the test's loopback port" grep -qx "listener $mqtt_port 127.0.0.1" "$r$path"
		continue
		;;
	esac
	if [[ "$heading" == Removing* ]] && [ "$published" -eq 0 ]; then
		readings_to_a_row
		published=1
	fi
	cmd=${cmd//sudo /}
	echo "--- [$heading] $cmd"
	case "$cmd" in
	*tests/*)
		echo "(a command of the repository, run on the build machine: done above)"
		;;
	*"systemctl restart mosquitto"*)
		broker_restart
		check "[$heading] mosquitto (re)started with Debian's mosquitto.conf" test $? -eq 0
		;;
	mosquitto_sub*)
		dongle_check "$cmd"
		;;
	mosquitto_passwd*)
		printf '%s\n%s\n' "$dongle_password" "$dongle_password" | in_root sh -c "cd /root && $cmd"
		check "[$heading] $cmd" test $? -eq 0
		;;
	*"apt install"* | *"apt-get install"* | *"apt purge"* | *"apt remove"*)
		cmd=$(sed -E 's/\b(apt|apt-get) (install|purge|remove)\b/\1 \2 -y -q/' <<<"$cmd")
		in_root sh -c "cd /root && $cmd" >"$work/apt.log" 2>&1
		rc=$?
		tail -n 3 "$work/apt.log"
		check "[$heading] $cmd" test "$rc" -eq 0
		case "$cmd" in
		*lowi-p1_*.deb*)
			installed=$(in_root dpkg-query -W -f='${Package} ${Version} ${Status}\n' lowi-p1 mosquitto 2>&1)
			echo "$installed"
			check "lowi-p1 is installed, and mosquitto with it" \
				test "$(grep -c ' install ok installed$' <<<"$installed")" -eq 2
			spool=$(in_root stat -c '%U %a %F' /var/lib/mosquitto/lowi-p1 2>&1)
			check "its postinst made the spool directory: $spool" test "$spool" = "mosquitto 700 directory"
			check "nothing enabled: /etc/mosquitto/conf.d holds no .conf" \
				bash -c "! ls '$r'/etc/mosquitto/conf.d/*.conf >/dev/null 2>&1"
			;;
		*mariadb-server*)
			mariadb_start
			check "mariadbd started as the mysql user, as its unit starts it" test $? -eq 0
			;;
		esac
		;;
	*)
		in_root sh -c "cd /root && $cmd"
		check "[$heading] $cmd" test $? -eq 0
		;;
	esac
done
[ "$published" -eq 1 ] || readings_to_a_row

# After the walk-through's removal (the last steps).
check "purged: the plugin is gone" test ! -e "$r/usr/lib/x86_64-linux-gnu/mosquitto/lowi_p1.so"
check "purged: the spool directory is gone" test ! -e "$r/var/lib/mosquitto/lowi-p1"
status=$(in_root dpkg-query -W -f='${Status}' lowi-p1 2>/dev/null)
check "purged: dpkg keeps nothing of lowi-p1 (status '${status:-none}')" \
	test -z "$status" -o "${status% not-installed}" != "$status"
check "mosquitto stays installed and running without the plugin" \
	bash -c "chroot '$r' dpkg-query -W -f='\${Status}' mosquitto | grep -q 'install ok installed' && kill -0 $broker_pid"
finish
