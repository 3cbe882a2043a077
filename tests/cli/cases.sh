# tests/cli/cases.sh - sourced by the cli and repl test scripts: cases that
# print "ok - NAME" or "not ok - NAME" with what failed (each line prefixed
# "# "), counted in TOTAL and FAILED.

FAILED=0
TOTAL=0
CASE=
CASE_LOG=

# begin NAME: starts a test case.
begin() {
    CASE=$1
    CASE_LOG=
    TOTAL=$((TOTAL + 1))
}

# fail MESSAGE: records a failed check for the current case.
fail() {
    CASE_LOG+="$1"$'\n'
}

# end_case: prints the verdict of the current case.
end_case() {
    if [ -z "$CASE_LOG" ]; then
        echo "ok - $CASE"
    else
        echo "not ok - $CASE"
        printf '%s' "$CASE_LOG" | sed 's/^/# /'
        FAILED=$((FAILED + 1))
    fi
}
