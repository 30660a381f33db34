# The package scripts' checks, sourced by build.sh and clean-root.sh after
# they set start (date +%s) and label (the wall-time line's name).
passed=0
failed=0
# check DESCRIPTION COMMAND...: the command's exit status is the verdict.
check() {
	local what=$1
	shift
	if "$@"; then
		echo "PASS $what"
		passed=$((passed + 1))
	else
		echo "FAIL $what"
		failed=$((failed + 1))
	fi
}
# finish: the wall time and "N passed, N failed"; exits non-zero on a failure.
finish() {
	echo "$label: $(($(date +%s) - start)) s"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}
