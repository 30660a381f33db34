#!/usr/bin/env bash
# Builds the Debian package as the README tells a user to
# (dpkg-buildpackage -us -uc -b, in a copy of this tree, so that the
# tree and its parent stay clean), runs lintian on it, and checks what the
# .deb holds and what its maintainer scripts do:
#   tests/package/build.sh [OUTDIR]      (default build/package)
# OUTDIR receives lowi-p1_<version>_amd64.deb, its .changes and .buildinfo,
# and the build and lintian logs. Installs what it lacks
# (tests/install-deps.sh). Ends with "N passed, N failed" and its wall time.
set -u
cd "$(dirname "$0")/../.."
src=$PWD
out=${1:-$src/build/package}
start=$(date +%s)
label="package build"
. tests/package/checks.sh

tests/install-deps.sh debhelper dpkg-dev lintian || { failed=$((failed + 1)); finish; }

version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -n 1)
check "debian/changelog's version is meson.build's ($version)" \
	test "$(dpkg-parsechangelog -l debian/changelog -S Version)" = "$version"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/lowi-p1-$version
mkdir -p "$tree" "$out"
rm -f "$out"/lowi-p1*_"$version"_*
# The files git knows of and those it would add (not build*/); a tree that
# is not a git checkout is copied whole but for its build directories.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
		[ -e "$f" ] && printf '%s\0' "$f"
	done | tar --null -T - -cf - | tar -xf - -C "$tree"
else
	tar --exclude='./build*' --exclude='./obj-*' -cf - . | tar -xf - -C "$tree"
fi

deb=lowi-p1_${version}_amd64.deb
(cd "$tree" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1
check "dpkg-buildpackage -us -uc -b builds $deb (log: $out/build.log)" test -f "$work/$deb"
if [ ! -f "$work/$deb" ]; then
	tail -n 30 "$out/build.log"
	finish
fi
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
echo "built $out/$deb"

# lintian on the .changes checks the .deb, the .buildinfo and the .changes.
# Every tag it still gives, down to the pedantic ones, is explained in the
# README's list (section "Lintian").
lintian -I -E --pedantic --tag-display-limit 0 "$out/lowi-p1_${version}_amd64.changes" \
	>"$out/lintian.log" 2>/dev/null
cat "$out/lintian.log"
check "lintian reports no error" bash -c "! grep -q '^E: ' '$out/lintian.log'"
readme_lintian=$(sed -n '/^### Lintian/,/^##/p' README.md)
unexplained=''
for tag in $(sed -n 's/^[WIPX]: [^:]*: \([a-z0-9-]*\).*/\1/p' "$out/lintian.log" | sort -u); do
	grep -q -- "\`$tag\`" <<<"$readme_lintian" || unexplained="$unexplained $tag"
done
check "every lintian warning and info tag is explained in the README${unexplained:+ (not:$unexplained)}" \
	test -z "$unexplained"

# What the package installs.
contents=$(dpkg-deb -c "$out/$deb" | awk '{ print $6 }' | sed 's|^\.||')
so=/usr/lib/x86_64-linux-gnu/mosquitto/lowi_p1.so
for path in "$so" /usr/bin/lowi-report /usr/bin/lowi-fluvius-import \
	/usr/share/lowi-p1/conf.d/lowi-p1.conf /usr/share/lowi-p1/sql/schema.sql \
	/usr/share/lowi-p1/dashboards/lowi-p1.json \
	/usr/share/lowi-p1/dashboards/provisioning/datasources/lowi-p1.yaml \
	/usr/share/lowi-p1/dashboards/provisioning/dashboards/lowi-p1.yaml \
	/usr/share/man/man1/lowi-report.1.gz /usr/share/man/man1/lowi-fluvius-import.1.gz \
	/usr/share/doc/lowi-p1/copyright /usr/share/doc/lowi-p1/README.md.gz; do
	check "the .deb holds $path" grep -qx -- "$path" <<<"$contents"
done
check "the .deb puts nothing in /etc (the plugin is enabled by hand)" \
	bash -c "! grep -q '^/etc/' <<<'$contents'"
check "the .deb holds no test program" bash -c "! grep -Eq 'lowi-sim|quarter-replay|/test_' <<<'$contents'"

x=$work/x
dpkg-deb -x "$out/$deb" "$x"
dpkg-deb -e "$out/$deb" "$x/DEBIAN"
check "the example drop-in loads the plugin from where the package puts it ($so)" \
	grep -qx "plugin $so" "$x/usr/share/lowi-p1/conf.d/lowi-p1.conf"
check "and is conf.d/lowi-p1.conf otherwise" \
	diff -q <(sed '/^plugin /d' conf.d/lowi-p1.conf) <(sed '/^plugin /d' "$x/usr/share/lowi-p1/conf.d/lowi-p1.conf")
cmp -s sql/schema.sql "$x/usr/share/lowi-p1/sql/schema.sql"
check "the installed schema is sql/schema.sql" test $? -eq 0
depends=$(dpkg-deb -f "$out/$deb" Depends)
check "Depends: mosquitto (>= 2.0) ($depends)" grep -q 'mosquitto (>= 2\.0)' <<<"$depends"
check "Depends: the libraries the plugin links (shlibs)" \
	bash -c "grep -q libmariadb3 <<<'$depends' && grep -q libjansson4 <<<'$depends' && grep -q libcurl4 <<<'$depends'"

# The packaged plugin is hardened like a meson build: the build flags are
# dpkg-buildflags' (-O2, so _FORTIFY_SOURCE too).
hardening=$(/usr/bin/python3 tests/unit/check_hardening.py "$x$so" true)
sed "s/^/  /" <<<"$hardening"
check "the packaged plugin carries every hardening flag (tests/unit/check_hardening.py)" \
	bash -c "! grep -q '^FAIL' <<<'$hardening' && grep -q '^PASS' <<<'$hardening'"

# The maintainer scripts, run for real in a mount namespace of their own
# where /var/lib/mosquitto and /etc/mosquitto/conf.d are empty tmpfs: the
# postinst makes the plugin's default spool directory (plugin/config.c),
# remove names a drop-in still loading the plugin, purge removes the
# directory.
spool=$(sed -n '/\.key = "spool_dir"/s/.*\.default_text = "\([^"]*\)".*/\1/p' plugin/config.c)
check "the plugin's default spool_dir is found in plugin/config.c ($spool)" test -n "$spool"
scripts=$(unshare -m sh -c "
	mount -t tmpfs none '$(dirname "$spool")' || exit 1
	sh -e '$x/DEBIAN/postinst' configure '' || exit 1
	stat -c 'after configure: %U %a %F' '$spool'
	sh -e '$x/DEBIAN/postinst' configure '$version' || exit 1
	stat -c 'after a second configure: %U %a %F' '$spool'
	mount -t tmpfs none /etc/mosquitto/conf.d || exit 1
	echo 'plugin $so' >/etc/mosquitto/conf.d/lowi-p1.conf
	sh -e '$x/DEBIAN/postrm' remove || exit 1
	stat -c 'after remove: %U %a %F' '$spool'
	sh -e '$x/DEBIAN/postrm' purge || exit 1
	test -e '$spool' && echo 'after purge: still there' || echo 'after purge: gone'
" 2>&1)
sed "s/^/  /" <<<"$scripts"
check "postinst configure makes $spool, owned by mosquitto, mode 0700" \
	grep -qx 'after configure: mosquitto 700 directory' <<<"$scripts"
check "a second configure (an upgrade) keeps it" \
	grep -qx 'after a second configure: mosquitto 700 directory' <<<"$scripts"
check "postrm remove keeps it (rows may wait there)" \
	grep -qx 'after remove: mosquitto 700 directory' <<<"$scripts"
check "postrm remove names the drop-in that still loads the plugin" \
	grep -q '^lowi-p1: /etc/mosquitto/conf.d/lowi-p1.conf still loads the plugin' <<<"$scripts"
check "postrm purge removes it" grep -qx 'after purge: gone' <<<"$scripts"
finish
