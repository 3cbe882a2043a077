#!/usr/bin/env bash
# tests/cli/run_cli_tests.sh - command-line tests for the nkshell executable.
#
# Usage: run_cli_tests.sh NKSHELL SRCDIR
#   NKSHELL  path of the nkshell binary to test
#   SRCDIR   source directory of the project (not needed by the current
#            cases, accepted for symmetry with the other test suites)
#
# Prints "ok - NAME" or "not ok - NAME" (followed by a diff, each line
# prefixed with "# ") per case and exits non-zero if any case failed.
# Only nk features every build has are used: the module loads as the
# table `nk` and the CLI defaults --backend/--threads/--seed.

set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 NKSHELL [SRCDIR]" >&2
    exit 2
fi

NK=$1
case $NK in /*) ;; *) NK=$PWD/$NK ;; esac
SRCDIR=${2:-.}
export LC_ALL=C
unset LUA_INIT LUA_INIT_5_4

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nkshell-cli.XXXXXX") || exit 2
trap 'rm -rf "$WORK"' EXIT
export HOME=$WORK/home # the REPL writes its history there
mkdir -p "$HOME"

# begin, fail, end_case; TOTAL and FAILED
. "$(dirname "${BASH_SOURCE[0]}")/cases.sh"

# ---------------------------------------------------------------- helpers

# run [--in TEXT] [--dir DIR] -- CMD...: runs CMD with TEXT (or nothing)
# on stdin, in DIR (default $WORK); sets RC, stdout in $WORK/out,
# stderr in $WORK/err.
run() {
    local input= dir=$WORK
    while [ $# -gt 0 ]; do
        case $1 in
        --in) input=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --) shift; break ;;
        *) break ;;
        esac
    done
    (cd "$dir" && printf '%s' "$input" | "$@") >"$WORK/out" 2>"$WORK/err"
    RC=$?
}

# compare LABEL EXPECTED FILE: FILE must hold EXPECTED (a newline is
# appended to a non-empty EXPECTED); records a diff otherwise.
compare() {
    local label=$1 expected=$2 file=$3 d
    if [ -n "$expected" ]; then
        printf '%s\n' "$expected" >"$WORK/expected"
    else
        : >"$WORK/expected"
    fi
    if ! d=$(diff -u --label "expected $label" --label "actual $label" \
        "$WORK/expected" "$file"); then
        fail "$d"
    fi
}

# expect_rc N: checks the exit status.
expect_rc() {
    [ "$RC" -eq "$1" ] || fail "exit status: expected $1, got $RC"
}

# expect_out TEXT / expect_err TEXT: exact stdout / stderr.
expect_out() { compare stdout "$1" "$WORK/out"; }
expect_err() { compare stderr "$1" "$WORK/err"; }

# expect_err_head TEXT: the first lines of stderr (as many as TEXT has).
expect_err_head() {
    local n
    n=$(printf '%s\n' "$1" | wc -l)
    head -n "$n" "$WORK/err" >"$WORK/err.head"
    compare "stderr (first $n lines)" "$1" "$WORK/err.head"
}

# expect_traceback: stderr holds a "stack traceback:" block.
expect_traceback() {
    grep -qx 'stack traceback:' "$WORK/err" || fail "stderr has no 'stack traceback:' line"
}

# expect_out_has STRING: stdout contains STRING (fixed string).
expect_out_has() {
    grep -qF -e "$1" "$WORK/out" || fail "stdout does not contain '$1'"
}

# ------------------------------------------------------------------ cases

USAGE_HINT="Try 'nkshell --help' for more information."

begin "--version prints the version"
run -- "$NK" --version
expect_rc 0
grep -qE '^nkshell [^ ]+$' "$WORK/out" && [ "$(wc -l <"$WORK/out")" -eq 1 ] ||
    fail "stdout is not one line 'nkshell VERSION': $(cat "$WORK/out")"
expect_err ""
VERSION_LINE=$(cat "$WORK/out")
end_case

begin "-v is the same as --version"
run -- "$NK" -v
expect_rc 0
expect_out "$VERSION_LINE"
expect_err ""
end_case

begin "--help lists every option"
run -- "$NK" --help
expect_rc 0
expect_err ""
head -n 1 "$WORK/out" | grep -q '^Usage: nkshell' || fail "first line is not 'Usage: nkshell ...'"
for opt in -e -i --backend --threads --seed -v --version -h --help --; do
    grep -qE -e "^ +(-[a-z], )?$opt( |,|$)" "$WORK/out" || fail "option $opt is not listed"
done
end_case

begin "-h is the same as --help"
cp "$WORK/out" "$WORK/help.out"
run -- "$NK" -h
expect_rc 0
cmp -s "$WORK/out" "$WORK/help.out" || fail "-h output differs from --help output"
end_case

begin "unknown option is a usage error"
run -- "$NK" --foo
expect_rc 2
expect_out ""
expect_err "nkshell: unknown option '--foo'
$USAGE_HINT"
end_case

begin "--sandbox with an unknown model: one line listing the models, no traceback"
run -- "$NK" --sandbox nosuch
expect_rc 1
expect_out ""
MODELS=$("$NK" -e 'io.write(table.concat(nk.models(), ", "))')
expect_err "nkshell: --sandbox: unknown model 'nosuch'; the models: $MODELS"
case $MODELS in "lif, "*exp_curr*) ;; *) fail "nk.models() lists: $MODELS" ;; esac
run -- "$NK" --sandbox lfi
expect_rc 1
expect_err "nkshell: --sandbox: unknown model 'lfi' (did you mean 'lif'?); the models: $MODELS"
run -- "$NK" -e 'nk.model{name = "mine", equations = "dv/dt = -v", states = {v = 0}}' \
    --sandbox mine
expect_rc 0
expect_out_has "mine: 1 neuron"
end_case

begin "unknown short option is a usage error"
run -- "$NK" -x script.lua
expect_rc 2
expect_out ""
expect_err "nkshell: unknown option '-x'
$USAGE_HINT"
end_case

begin "-e without an argument is a usage error"
run -- "$NK" -e
expect_rc 2
expect_out ""
expect_err "nkshell: option '-e' needs an argument
$USAGE_HINT"
end_case

begin "--backend without an argument is a usage error"
run -- "$NK" --backend
expect_rc 2
expect_err "nkshell: option '--backend' needs an argument
$USAGE_HINT"
end_case

begin "--threads followed by another option: its value is missing, said so"
# (it said "invalid value '-e' for --threads", as if -e were the value given)
run -- "$NK" --threads -e 'print("not run")'
expect_rc 2
expect_out ""
expect_err "nkshell: option '--threads' needs an argument (a non-negative integer), and '-e' is an option
$USAGE_HINT"
run -- "$NK" --threads -1 -e 'print("not run")'
expect_rc 2
expect_err "nkshell: invalid value '-1' for --threads (expected a non-negative integer)
$USAGE_HINT"
end_case

begin "--backend=bogus is a usage error"
run -- "$NK" --backend=bogus -e 'print("not run")'
expect_rc 2
expect_out ""
expect_err "nkshell: invalid value 'bogus' for --backend (expected cpu, cuda or auto)
$USAGE_HINT"
end_case

begin "--backend gpu (separate value) is a usage error"
run -- "$NK" --backend gpu
expect_rc 2
expect_err "nkshell: invalid value 'gpu' for --backend (expected cpu, cuda or auto)
$USAGE_HINT"
end_case

# NKSHELL_CUDA: off keeps networks on the CPU (backend "auto", the default)
# and refuses backend "cuda"; a value it does not know is refused either way,
# naming the values expected (a typo such as "emualte" ran on the CPU, or on
# the GPU, without a word)
begin "NKSHELL_CUDA=off: auto runs on the CPU, cuda is refused"
run -- env NKSHELL_CUDA=off "$NK" -e 'print(nk.network{}.backend); print(pcall(nk.network, {backend = "cuda"}))'
expect_rc 0
expect_out "cpu
false	nk.network: the CUDA backend cannot run here: turned off (NKSHELL_CUDA=off)"
end_case

begin "NKSHELL_CUDA with an unknown value is refused, backend auto too"
for be in auto cuda; do
  run -- env NKSHELL_CUDA=emualte "$NK" --backend $be -e 'nk.network{}'
  expect_rc 1
  grep -qF "nk.network: the CUDA backend cannot run here: NKSHELL_CUDA is 'emualte'; expected nothing (the GPU), 'emulate' (the host stands in for a GPU, for tests) or 'off' (no GPU is used)" \
    "$WORK/err" || fail "--backend $be: $(cat "$WORK/err")"
done
end_case

begin "--threads with a non-number is a usage error"
run -- "$NK" --threads many
expect_rc 2
expect_err "nkshell: invalid value 'many' for --threads (expected a non-negative integer)
$USAGE_HINT"
end_case

begin "--seed with a non-number is a usage error"
run -- "$NK" --seed=-1
expect_rc 2
expect_err "nkshell: invalid value '-1' for --seed (expected a non-negative integer)
$USAGE_HINT"
end_case

begin "--seed beyond 2^63 - 1 is a usage error (it was clamped)"
run -- "$NK" --seed 18446744073709551615 -e 'print("ran")'
expect_rc 2
expect_err "nkshell: invalid value '18446744073709551615' for --seed (expected an integer from 0 to 9223372036854775807)
$USAGE_HINT"
end_case

begin "valid --backend/--threads/--seed are accepted"
run -- "$NK" --backend cpu --threads=2 --seed 42 -e 'print("ran")'
expect_rc 0
expect_out "ran"
expect_err ""
end_case

begin "--threads sets every network's thread count; 0 is one per CPU"
run -- "$NK" --threads 3 -e 'print(nk.network{}.threads)'
expect_rc 0
expect_out "3"
run -- "$NK" --threads 0 -e 'print(nk.network{}.threads == tonumber(io.popen("nproc"):read("l")))'
expect_rc 0
expect_out "true"
end_case

begin "--threads above 256 is refused"
run -- "$NK" --threads 300 -e 'print("ran")'
expect_rc 2
expect_err "nkshell: invalid value '300' for --threads (expected 0, one per CPU, to 256)
$USAGE_HINT"
end_case

begin "--profile prints each run's profile on stderr"
run -- "$NK" --profile -e 'local n = nk.network{}; n:population("lif", 100); n:run(5); n:run(2); print(n:profile().run.steps)'
expect_rc 0
expect_out "20"
if [ "$(grep -c '^run .*(50 steps, 1 thread)' "$WORK/err")" != 1 ] ||
   [ "$(grep -c '^run .*(20 steps, 1 thread)' "$WORK/err")" != 1 ] ||
   [ "$(grep -c '^  update ' "$WORK/err")" != 2 ]; then
    fail "expected two profiles (50 and 20 steps) on stderr"
fi
end_case

begin "docs/reference.md is what scripts/gen_reference.lua makes of the API tables"
run -- "$NK" "$SRCDIR/scripts/gen_reference.lua"
expect_rc 0
if ! d=$(diff -u --label "docs/reference.md" --label "generated" "$SRCDIR/docs/reference.md" "$WORK/out"); then
    fail "docs/reference.md is out of date: run build/shell/nkshell scripts/gen_reference.lua > docs/reference.md"
    fail "$(printf '%s\n' "$d" | head -20)"
fi
grep -qF '| `stimulus` |' "$WORK/out" || fail "the reference lacks nk.sandbox's options"
grep -qF '### hh (neuron)' "$WORK/out" || fail "the reference lacks the hh model"
end_case

begin "the man page documents every option --help lists"
run -- "$NK" --help
expect_rc 0
man_src="$SRCDIR/docs/nkshell.1"
if [ ! -f "$man_src" ]; then
    fail "docs/nkshell.1 is missing"
else
    for opt in $(grep -o '^  \(-[a-zA-Z]\|--[a-z-]*\)' "$WORK/out" | tr -d ' '); do
        # groff writes a hyphen as \-
        grep -qF -- "$(printf '%s' "$opt" | sed 's/-/\\-/g')" "$man_src" \
            || fail "nkshell.1 does not mention $opt"
    done
    grep -q '^\.TH NKSHELL 1' "$man_src" || fail "nkshell.1 has no .TH header"
fi
end_case

begin "--backend=auto is accepted"
run -- "$NK" --backend=auto -e 'print("ran")'
expect_rc 0
expect_out "ran"
end_case

begin "-e runs code"
run -- "$NK" -e 'print(1+1)'
expect_rc 0
expect_out "2"
expect_err ""
end_case

begin "several -e run in order"
run -- "$NK" -e 'print("a")' -e 'x = 1' -e 'print("b", x)'
expect_rc 0
expect_out "a
b	1"
expect_err ""
end_case

begin "nk is a loaded module table"
run -- "$NK" -e 'print(type(nk), package.loaded.nk == nk, require("nk") == nk)'
expect_rc 0
expect_out "table	true	true"
end_case

begin "-e runtime error exits 1 with message and traceback"
run -- "$NK" -e "error('boom')"
expect_rc 1
expect_out ""
expect_err_head "(command line):1: boom
stack traceback:"
end_case

begin "-e error stops later -e code"
run -- "$NK" -e 'print(1)' -e 'error("x")' -e 'print(3)'
expect_rc 1
expect_out "1"
expect_err_head "(command line):1: x"
end_case

begin "-e syntax error exits 1"
run -- "$NK" -e 'x = = 1'
expect_rc 1
expect_out ""
expect_err "(command line):1: unexpected symbol near '='"
end_case

begin "error object with __tostring"
run -- "$NK" -e 'error(setmetatable({}, {__tostring = function() return "custom" end}))'
expect_rc 1
expect_err_head "custom
stack traceback:"
end_case

begin "error object without __tostring"
run -- "$NK" -e 'error({})'
expect_rc 1
expect_err_head "(error object is a table value)"
expect_traceback
end_case

begin "stdout is flushed before an error message"
(cd "$WORK" && "$NK" -e 'io.write("out1\n")' -e 'error("err")' >"$WORK/out" 2>&1 </dev/null)
RC=$?
expect_rc 1
head -n 2 "$WORK/out" >"$WORK/out.head"
compare "combined output" "out1
(command line):1: err" "$WORK/out.head"
end_case

begin "the Lua state is closed (finalizers run) after an error"
run -- "$NK" -e 'keep = setmetatable({}, {__gc = function() print("closed") end})' -e 'error("x")'
expect_rc 1
expect_out "closed"
end_case

cat >"$WORK/args.lua" <<'EOF'
print(arg[0], arg[1], arg[2], #arg, select('#', ...))
local a, b = ...
print(a, b)
print(arg[-1])
EOF

begin "script gets arg table and ..."
run -- "$NK" args.lua one two
expect_rc 0
expect_out "args.lua	one	two	2	2
one	two
$NK"
expect_err ""
end_case

begin "arguments before FILE get negative indices in arg"
run -- "$NK" -e 'x = 1' args.lua
expect_rc 0
expect_out "args.lua	nil	nil	0	0
nil	nil
x = 1"
run -- "$NK" -e 'print(arg[-3], arg[-2])' args.lua
expect_rc 0
[ "$(head -n 1 "$WORK/out")" = "$NK	-e" ] || fail "arg[-3], arg[-2]: $(head -n 1 "$WORK/out")"
end_case

begin "-- ends options"
run -- "$NK" -- args.lua -e --foo
expect_rc 0
expect_out "args.lua	-e	--foo	2	2
-e	--foo
--"
end_case

cat >"$WORK/rterr.lua" <<'EOF'
print("start")
local t = {}
foo()
print("not reached")
EOF

begin "script runtime error exits 1 with FILE:LINE message"
run -- "$NK" rterr.lua
expect_rc 1
expect_out "start"
expect_err_head "rterr.lua:3: attempt to call a nil value (global 'foo')
stack traceback:"
end_case

begin "nonexistent script exits 1"
run -- "$NK" nofile.lua
expect_rc 1
expect_out ""
expect_err "cannot open nofile.lua: No such file or directory"
end_case

printf 'print("a")\nlocal x = 1\nx = 1 * * 2\n' >"$WORK/syntax.lua"

begin "script with a syntax error exits 1"
run -- "$NK" syntax.lua
expect_rc 1
expect_out ""
expect_err "syntax.lua:3: unexpected symbol near '*'"
end_case

begin "-e runs before FILE"
run -- "$NK" -e 'print("first")' args.lua z
expect_rc 0
expect_out "first
args.lua	z	nil	1	1
z	nil
print(\"first\")"
end_case

begin "stdin that is not a terminal runs as a script"
run --in 'print(42)
' -- "$NK"
expect_rc 0
expect_out "42"
expect_err ""
end_case

begin "script on stdin: runtime error exits 1"
run --in 'print("x")
error("e")
' -- "$NK"
expect_rc 1
expect_out "x"
expect_err_head "stdin:2: e
stack traceback:"
end_case

begin "- reads the script from stdin, with arguments"
run --in 'print(arg[0], ...)
' -- "$NK" - a b
expect_rc 0
expect_out "-	a	b"
run --in 'print(arg[-1])
' -- "$NK" -
expect_out "$NK"
end_case

begin "-e then - shares the state"
run --in 'print(x)
' -- "$NK" -e 'x = 3' -
expect_rc 0
expect_out "3"
end_case

begin "-e without FILE does not read stdin"
run --in 'print("from stdin")
' -- "$NK" -e 'print("e")'
expect_rc 0
expect_out "e"
end_case

REPL_INPUT='1+1
x = 5
x
for i = 1, 3 do
  print(i)
end
error("bad")
print("after")
1, nil, "s"
setmetatable({}, {__tostring = function() return "OBJ" end})
y = = 1
local t = {
  a = 1,
}
print("end")
'

begin "-i over piped stdin acts as a REPL"
run --in "$REPL_INPUT" -- "$NK" -i
expect_rc 0
expect_out "2
5
1
2
3
after
1	nil	s
OBJ
end"
expect_err_head "stdin:1: bad
stack traceback:"
grep -qxF "stdin:1: unexpected symbol near '='" "$WORK/err" ||
    fail "stderr lacks the syntax error of 'y = = 1'"
end_case

begin "-i after -e and FILE keeps the state"
run --in 'y
z
' -- "$NK" -e 'y = 7' -i args.lua q
expect_rc 0
expect_out "args.lua	q	nil	1	1
q	nil
-i
7
nil"
end_case

begin "-i: incomplete chunk at EOF is reported, exit 0"
run --in 'if true then
' -- "$NK" -i
expect_rc 0
expect_out ""
expect_err "stdin:1: 'end' expected near <eof>"
end_case

begin "-i: empty input exits 0"
run -- "$NK" -i
expect_rc 0
expect_out ""
expect_err ""
end_case

begin "-i is not entered when the script fails"
run --in '"never"
' -- "$NK" -i -e 'error("stop")'
expect_rc 1
expect_out ""
expect_err_head "(command line):1: stop"
end_case

# Interactive session on a pseudo-terminal (util-linux `script`).
# --- errors from nk in batch mode: exact first line, exit 1, no crash

nk_error_case() { # NAME CODE EXPECTED-FIRST-LINE
    begin "$1"
    printf '%s\n' "$2" >"$WORK/bad.lua"
    run -- "$NK" bad.lua
    expect_rc 1
    expect_err_head "$3"
    expect_traceback
    end_case
}
nk_error_case "nk: dt <= 0" 'local net = nk.network{dt = 0}' \
    "bad.lua:1: nk.network: dt must be a positive number of ms, got 0"
nk_error_case "nk: a typo in a model parameter" \
    'local net = nk.network{}
net:population("lif", 10, {params = {tau_mm = 20}})' \
    "bad.lua:2: net:population: unknown parameter 'tau_mm' for model 'lif' (did you mean 'tau_m'?); it has: tau_m, C_m, v_rest, v_reset, v_thresh, t_ref, I_e"
nk_error_case "nk: unknown model" 'nk.network{}:population("lfi", 10)' \
    "bad.lua:1: net:population: unknown model 'lfi' (did you mean 'lif'?)"
nk_error_case "nk: a zero-sized population" 'nk.network{}:population("lif", 0)' \
    "bad.lua:1: net:population: population size must be a positive integer, got 0"
nk_error_case "nk: a wrong argument type" 'nk.network{}:run("ten")' \
    "bad.lua:1: bad argument #1 to 'net:run' (duration in ms expected, got string)"
nk_error_case "nk: an output that cannot be written" 'nk.network{output = "nodir/x.h5"}' \
    "bad.lua:1: nk.network: output: cannot create 'nodir/x.h5.part': No such file or directory"
nk_error_case "nk: a monitor on another network's population" \
    'local a, b = nk.network{}, nk.network{}
local p = b:population("lif", 3, {name = "q"})
a:monitor("spikes", p)' \
    "bad.lua:3: bad argument #2 to 'net:monitor' (population 'q' belongs to another network)"

begin "REPL on a terminal (readline)"
if ! command -v script >/dev/null 2>&1 ||
    ! script -qec true /dev/null </dev/null >/dev/null 2>&1; then
    echo "ok - $CASE # SKIP no working 'script' (util-linux)"
else
    rm -f "$HOME/.nkshell_history"
    # Input arrives in steps so that Ctrl-C (\003) hits a running loop
    # and a half-typed line rather than the start-up.
    {
        printf '1+1\nfor i = 1, 2 do\nprint("i=" .. i)\nend\nerror("oops")\n'
        sleep 1
        printf 'while true do end\n'
        sleep 1
        printf '\003'
        sleep 1
        printf 'half typed\003'
        sleep 1
        printf '"alive"\n'
        sleep 1
    # script(1) runs the command through $SHELL; exec so that no shell
    # (dash exits on the Ctrl-C) stands between the terminal and nkshell.
    } | (cd "$WORK" && SHELL=/bin/sh timeout 30 script -qec "exec '$NK'" /dev/null) >"$WORK/tty.raw" 2>&1
    RC=$?
    # Drop carriage returns and bracketed-paste escapes.
    tr -d '\r' <"$WORK/tty.raw" | sed 's/\x1b\[?2004[hl]//g' >"$WORK/tty.out"
    expect_rc 0
    grep -qE '^nkshell [^ ]+ \(Lua 5\.4\) — type help\(\) for help, Ctrl-D to quit$' "$WORK/tty.out" ||
        fail "no banner"
    for line in '2' 'i=1' 'i=2' 'stdin:1: oops' 'alive'; do
        grep -qxF -e "$line" "$WORK/tty.out" || fail "terminal output lacks line '$line'"
    done
    grep -qF 'interrupted!' "$WORK/tty.out" || fail "Ctrl-C did not interrupt the loop"
    if [ -z "$CASE_LOG" ]; then
        hist=$HOME/.nkshell_history
        if [ ! -f "$hist" ]; then
            fail "no history file"
        else
            [ "$(stat -c %a "$hist")" = 600 ] || fail "history file mode is $(stat -c %a "$hist")"
            grep -qxF 'print("i=" .. i)' "$hist" || fail "history lacks the loop body"
            grep -qxF '"alive"' "$hist" || fail "history lacks '\"alive\"'"
            grep -qF 'half typed' "$hist" && fail "a cancelled line went into the history"
        fi
    fi
    [ -n "$CASE_LOG" ] && CASE_LOG+="terminal output:"$'\n'"$(cat "$WORK/tty.out")"$'\n'
    end_case
fi

begin "NKSHELL_MEM_AVAILABLE caps memory; load_gexf refuses a tree that cannot fit"
# libxml2's tree takes about 16 bytes per byte of XML: a file (or what a small
# gzip file expands to) too big for the memory available is refused before
# parsing, with the session kept. The same file loads without the cap.
src="$SRCDIR/tests/data/gexf/current.gexf"
if [ -f "$src" ]; then
    { head -n 1 "$src"; printf '<!-- %s -->\n' "$(head -c 2000000 /dev/zero | tr '\0' ' ')"; tail -n +2 "$src"; } >"$WORK/big.gexf"
    gzip -c "$WORK/big.gexf" >"$WORK/big.gexf.gz"
    load='local net = nk.network{}
for _, f in ipairs{"big.gexf", "big.gexf.gz"} do
  local ok, e = pcall(net.load_gexf, net, f)
  print(ok and "loaded " .. #net:populations() or e)
end
print(select(2, pcall(net.population, net, "lif", 2000000)))
print("alive")'
    run -- env NKSHELL_MEM_AVAILABLE=16000000 "$NK" -e "$load"
    expect_rc 0
    expect_out_has "net:load_gexf: big.gexf: holds 2.0 MB of XML; reading it takes about 32.1 MB of memory (16 bytes per byte of XML), more than the 16.0 MB available"
    expect_out_has "net:load_gexf: big.gexf.gz: expands to more than 1.0 MB of XML (from "
    expect_out_has " kB of gzip); reading it takes about 16 bytes of memory per byte of XML, more than the 16.0 MB available"
    expect_out_has "net:population: a population of 2000000 'lif' neurons needs about 32.0 MB, more than the 16.0 MB of memory available"
    [ "$(tail -n 1 "$WORK/out")" = alive ] || fail "the session did not go on"
    run -- "$NK" -e "$load"
    expect_rc 0
    grep -qx 'loaded [1-9][0-9]*' "$WORK/out" || fail "without the cap the file did not load: $(head -n 2 "$WORK/out")"
else
    fail "$src is missing"
fi
end_case

begin "an array source's file: a dataset too big for the memory available is refused before reading"
# The values are read as doubles and kept (twice their size): a small file
# may declare 2^61 rows (the size wrapped and HDF5 wrote past a small buffer).
# Here a real dataset of 100 x 1000 values (1.6 MB read and kept) against a
# cap of 1 MB, then without the cap.
mk='local net = nk.network{output = "arr.h5", precision = "double"}
local p = net:population("lif", 1000, {name = "p"})
net:monitor("state", p, {vars = "v", name = "d"})
net:run(10)
net:close()'
run -- "$NK" -e "$mk"
expect_rc 0
use='local net = nk.network{}
local p = net:population("lif", 1000)
print(select(2, pcall(net.source, net, "array", p, {file = "arr.h5", dataset = "/report/d/data"})))
print("alive")'
run -- env NKSHELL_MEM_AVAILABLE=1000000 "$NK" -e "$use"
expect_rc 0
expect_out_has "net:source('array'): dataset '/report/d/data' of 'arr.h5' has 100 x 1000 values, 800.0 kB as doubles (twice: read and kept), more than the 1.0 MB of memory available"
[ "$(tail -n 1 "$WORK/out")" = alive ] || fail "the session did not go on"
run -- "$NK" -e "$use"
expect_rc 0
grep -q "^source 1: array on 1000 of .pop1.: 100 x 1000 values" "$WORK/out" || fail "without the cap the file did not load: $(head -n 1 "$WORK/out")"
end_case

# A network of LIF neurons with exp_cond and exp_curr receptors, 300 ms, its
# state in the precision given ("float" or "double"): it prints the spike
# count, a hash of the spikes and every 7th neuron's v in hex.
# same_bits_as_default NAME VAR=VALUE... runs it with the default build and
# with the variables set (each with a code cache of its own), in both
# precisions, and fails unless they print the same. (Float state alone would
# hide a difference in the last bits of the double arithmetic: it missed
# -ffp-contract=fast, which double state shows.)
cat >"$WORK/bits.lua" <<'EOF'
local lif = {tau_m = 20, C_m = 200, v_rest = -49, v_reset = -60, v_thresh = -50, t_ref = 5}
local net = nk.network{dt = 0.1, seed = 5, precision = arg[1]}
local exc = net:population("lif", 800, {params = lif, init = {v = nk.uniform(-60, -50)}})
local inh = net:population("lif", 200, {params = lif, init = {v = nk.uniform(-60, -50)}})
for _, post in ipairs{exc, inh} do
  net:connect(exc, post, {rule = "bernoulli", p = 0.08, weight = 1, synapse = "exp_cond",
                          receptor = "e", params = {tau_syn = 5, E_rev = 0}})
  net:connect(inh, post, {rule = "bernoulli", p = 0.08, weight = -90, synapse = "exp_curr",
                          receptor = "i", params = {tau_syn = 10}})
end
local m = net:monitor("spikes", exc)
net:run(300)
local h = 0
local ts, ids = m:times(), m:ids()
for k = 1, #ts do h = (h * 31 + math.floor(ts[k] * 10 + 0.5) * 7 + ids[k]) % 2147483647 end
local v = {}
for k = 1, #exc, 7 do v[#v + 1] = string.format("%a", exc:get("v", k)) end
print(#ts, h, table.concat(v, " "))
EOF
same_bits_as_default() {
    local name=$1 prec
    shift
    for prec in float double; do
        run -- env XDG_CACHE_HOME="$WORK/cache-native" "$NK" bits.lua "$prec"
        expect_rc 0
        cp "$WORK/out" "$WORK/native.out"
        run -- env XDG_CACHE_HOME="$WORK/cache-$name" "$@" "$NK" bits.lua "$prec"
        expect_rc 0
        compare "$name build's spikes and states ($prec)" "$(cat "$WORK/native.out")" "$WORK/out"
        [ "$(cut -f1 "$WORK/out")" -gt 100 ] 2>/dev/null || fail "too few spikes to compare: $(cut -f1 "$WORK/out")"
    done
}

begin "generated code built for AVX2 gives the bits of the default build"
# Without AVX-512 the kernels convert their Q32.32 input in two halves
# (NK_FIX_REAL); the spikes and states must not change.
# (x86-64 CPUs with AVX2 only: elsewhere such a build cannot run)
if [ "$(uname -m)" = x86_64 ] && grep -qw avx2 /proc/cpuinfo; then
    same_bits_as_default AVX2 NKSHELL_CFLAGS=-march=x86-64-v3
fi
end_case

begin "generated code compiled by clang (NKSHELL_CC) gives the bits of the default build"
# The generated modules carry GCC-only settings (a pragma that clang must
# skip): with clang as the JIT's compiler they must still compile, and
# IEEE arithmetic without contraction gives the same spikes and states.
# (Where clang is installed.)
if command -v clang >/dev/null 2>&1; then
    same_bits_as_default clang NKSHELL_CC=clang
fi
end_case

begin "the neuron loop of the library's spiking models is vectorised"
# The update's speed rests on GCC vectorising the loop over neurons: a
# reduction inside it once kept the loop of every one-receptor LIF
# population scalar, 1.9x slower, and nothing else noticed. The JIT's
# compiler is wrapped to report what GCC vectorised, for each model below:
# every loop marked ivdep, the loop over neurons and, where the integration
# runs outside it, the loops over a block's neurons. (GCC on x86-64 with
# AVX2 or better.) The noisy LIF draws randn() and rand() per neuron, and
# the theta neuron calls sin, cos and tan: their branches (in the normal
# draw's cosine, and the trigonometric functions' argument reduction) kept
# such loops scalar, 5x slower. Under rk45, a while loop of tries inside
# the loop over neurons kept it scalar (adex 6x, hh 5x slower).
cc_macros=$(cc -dM -E - </dev/null 2>/dev/null)
if [ "$(uname -m)" = x86_64 ] && grep -qw avx2 /proc/cpuinfo &&
    printf '%s' "$cc_macros" | grep -q __GNUC__ && ! printf '%s' "$cc_macros" | grep -q __clang__; then
    mkdir -p "$WORK/vec"
    cat >"$WORK/vcc.sh" <<EOF
#!/bin/sh
# the JIT's compile, with GCC's report of vectorised loops beside the source
for a; do case \$a in *.c) src=\$a ;; esac; done
name=\$(basename "\$src" .c)
cp "\$src" "$WORK/vec/\$name.c"
exec cc "\$@" -fopt-info-vec-optimized="$WORK/vec/\$name.vec"
EOF
    chmod +x "$WORK/vcc.sh"
    cat >"$WORK/vec.lua" <<'EOF'
nk.model{name = "noisy_lif", kind = "neuron", states = {v = -60},
         params = {tau = 10, sigma = 5, mu = -52},
         equations = [[xi = randn() : 1 (constant over dt)
                       dv/dt = (mu - v)/tau + sigma*sqrt(2/tau)*xi/sqrt(dt) : mV]],
         threshold = "v > -50 + rand()", reset = "v = -60", refractory = 2}
nk.model{name = "theta", kind = "neuron", states = {th = 0}, params = {tau = 5, I0 = 0.02},
         equations = "dth/dt = (1 - cos(th) + (1 + cos(th))*(I0 + sin(th)*tan(th/4)/100))/tau : 1",
         threshold = "th > 3.14159", reset = "th = th - 6.28318"}
local net = nk.network{dt = 0.1}
local function pop(model, syns, method)
  local p = net:population(model, 64, {name = model .. "_" .. table.concat(syns, "_") ..
                                              (method or ""), method = method})
  for k, syn in ipairs(syns) do
    net:connect(p, p, {rule = "one_to_one", weight = 1, synapse = syn, receptor = "r" .. k})
  end
end
pop("lif", {"exp_curr"})
pop("lif", {"exp_curr", "exp_curr"})
pop("lif", {"exp_cond"})
pop("iaf", {"exp_curr"})
pop("iaf_cond_exp", {"exp_cond"})
pop("izhikevich", {"exp_curr"})
pop("adex", {"exp_cond"})
pop("hh_traub", {"exp_cond", "exp_cond"})
pop("poisson", {"exp_curr"})
pop("iaf_psc_exp", {"exp_curr"})
pop("iaf_psc_alpha", {"exp_curr"})
pop("noisy_lif", {"exp_curr"})
pop("theta", {"exp_curr"})
pop("adex", {"exp_cond"}, "rk45")
pop("hh_traub", {"exp_cond"}, "rk45")
net:run(0.1)
EOF
    run -- env XDG_CACHE_HOME="$WORK/cache-vec" NKSHELL_CC="$WORK/vcc.sh" "$NK" vec.lua
    expect_rc 0
    nsrc=0
    for src in "$WORK"/vec/*.c; do
        [ -e "$src" ] || break
        nsrc=$((nsrc + 1))
        model=$(sed -n "s/.*(model '\([^']*\)'.*/\1/p" "$src" | head -n 1)
        nloops=0
        for line in $(grep -n '#pragma GCC ivdep' "$src" | cut -d: -f1); do
            nloops=$((nloops + 1))
            line=$((line + 1))
            grep -q "\.c:$line:[0-9]*: optimized: loop vectorized" "${src%.c}.vec" ||
                fail "model '$model': the loop at line $line was not vectorised"
        done
        method=$(sed -n "s/.*, method \([a-z0-9_]*\),.*/\1/p" "$src" | head -n 1)
        # rk45: the loop over neurons, the loop of a try, the rest of the step
        want=1
        [ "$method" = rk45 ] && want=3
        [ "$nloops" -eq "$want" ] ||
            fail "model '$model' ($method): $nloops loops marked ivdep, expected $want"
    done
    # one module per model, receptor set and method: lif three times, adex
    # and hh_traub twice, the rest once
    [ "$nsrc" -eq 15 ] || fail "expected 15 compiled modules, got $nsrc"
fi
end_case

begin "a compile failure with the user's NKSHELL_CFLAGS names them, not a bug"
run -- env XDG_CACHE_HOME="$WORK/cache-badflags" NKSHELL_CFLAGS=-Werror=no-such-warning "$NK" -e \
    'local n = nk.network{} n:population("lif", 10) print(pcall(n.run, n, 1))'
expect_rc 0
expect_out_has "did not compile with NKSHELL_CFLAGS=-Werror=no-such-warning: the compiler exited with status 1 (check those first"
grep -q "bug in nkshell" "$WORK/out" && fail "blamed on nkshell"
end_case

begin "NKSHELL_CC may carry words of its own; a failing compiler's status is named"
prog='local n = nk.network{} n:population("lif", 3) print(pcall(n.run, n, 2))'
# "cc -O1" was taken as the name of one program
run -- env XDG_CACHE_HOME="$WORK/cache-ccw" NKSHELL_CC="cc  -O1" "$NK" -e "$prog"
expect_rc 0
expect_out "true"
printf '#!/bin/sh\nexit 3\n' >"$WORK/cc3" && chmod +x "$WORK/cc3"
run -- env XDG_CACHE_HOME="$WORK/cache-ccw" NKSHELL_CC="$WORK/cc3" "$NK" -e "$prog"
expect_rc 0
expect_out_has "did not compile with NKSHELL_CC=$WORK/cc3: the compiler exited with status 3"
# a "compiler" that succeeds without writing anything
run -- env XDG_CACHE_HOME="$WORK/cache-ccw" NKSHELL_CC=true "$NK" -e "$prog"
expect_rc 0
expect_out_has "the C compiler 'true' exited with status 0 but wrote no shared object"
end_case

begin "a compiler that dies (cc1 killed for memory) is not called a bug in nkshell"
printf '#!/bin/sh\necho "cc: fatal error: Killed signal terminated program cc1" >&2\nexit 1\n' \
    >"$WORK/cckilled" && chmod +x "$WORK/cckilled"
run -- env XDG_CACHE_HOME="$WORK/cache-killed" NKSHELL_CC="$WORK/cckilled" "$NK" -e 'local n = nk.network{} n:population("lif", 3) print(pcall(n.run, n, 2))'
expect_rc 0
expect_out_has "generated code could not be compiled: the C compiler"
expect_out_has "failed itself (killed, most often by the system for want of memory"
grep -q "bug in nkshell" "$WORK/out" && fail "blamed on nkshell"
end_case

begin "flags that change the generated code's arithmetic are refused"
prog='local n = nk.network{} n:population("lif", 3) print(pcall(n.run, n, 2))'
for v in "NKSHELL_CFLAGS=-O2 -ffast-math" "NKSHELL_CFLAGS=-ffp-contract=fast" \
    "NKSHELL_CC=cc -Ofast" "NKSHELL_CFLAGS=-ffinite-math-only"; do
    run -- env XDG_CACHE_HOME="$WORK/cache-fast" "$v" "$NK" -e "$prog"
    expect_rc 0
    var=${v%%=*}
    flag=${v#*=}
    flag=${flag##* }
    expect_out_has "$var has '$flag', which lets the compiler change the arithmetic"
done
ls "$WORK"/cache-fast/nkshell/*.so >/dev/null 2>&1 && fail "a module was compiled anyway"
run -- env XDG_CACHE_HOME="$WORK/cache-fast" NKSHELL_CFLAGS=-ffp-contract=off "$NK" -e "$prog"
expect_out "true"
end_case

begin "an interrupt stops a compiler that hangs (nkshell waited for it for good)"
printf '#!/bin/sh\ntrap "" INT TERM\nsleep 60\n' >"$WORK/cchang" && chmod +x "$WORK/cchang"
cat >"$WORK/hang.lua" <<'EOF'
local n = nk.network{} n:population("lif", 3)
print(pcall(n.run, n, 2))
print("still here", n.time)
EOF
t0=$(date +%s)
run -- env XDG_CACHE_HOME="$WORK/cache-hang" NKSHELL_CC="$WORK/cchang" \
    timeout -k 20 -s INT 1 "$NK" hang.lua
t1=$(date +%s)
expect_out_has "interrupted while compiling the generated code"
expect_out_has "still here"
[ $((t1 - t0)) -lt 15 ] || fail "took $((t1 - t0)) s"
pgrep -f "$WORK/cchang" >/dev/null && fail "the compiler is still running"
end_case

begin "a cached module cut short is compiled again (dlopen of it died with SIGBUS)"
prog='local n = nk.network{} n:population("lif", 3) n:run(2) print("ran")'
run -- env XDG_CACHE_HOME="$WORK/cache-cut" "$NK" -e "$prog"
expect_rc 0
cut=0
for so in "$WORK"/cache-cut/nkshell/*.so; do
    head -c 3000 "$so" >"$so.x" && mv "$so.x" "$so" && cut=$((cut + 1))
done
[ "$cut" -gt 0 ] || fail "no cached module to cut"
run -- env XDG_CACHE_HOME="$WORK/cache-cut" "$NK" -e "$prog"
expect_rc 0
expect_out_has "ran"
: >"$(ls "$WORK"/cache-cut/nkshell/*.so | head -n 1)" # empty
run -- env XDG_CACHE_HOME="$WORK/cache-cut" "$NK" -e "$prog"
expect_rc 0
expect_out_has "ran"
end_case

begin "without HOME the code cache in TMPDIR must be the user's own"
mkdir -p "$WORK/tmpd/nkshell-cache-$(id -u)"
chmod 777 "$WORK/tmpd/nkshell-cache-$(id -u)"
prog='local n = nk.network{} n:population("lif", 3) print(pcall(n.run, n, 2))'
run -- env -u HOME -u XDG_CACHE_HOME TMPDIR="$WORK/tmpd" "$NK" -e "$prog"
expect_rc 0
expect_out_has "is not this user's own (or others may write in it), and code in it would be run"
chmod 700 "$WORK/tmpd/nkshell-cache-$(id -u)"
run -- env -u HOME -u XDG_CACHE_HOME TMPDIR="$WORK/tmpd" "$NK" -e "$prog"
expect_rc 0
expect_out_has "true"
end_case

begin "thread chunks laid out with gaps give the bits of dense ones"
# With threads the CPU backend leaves unused entries between the chunks of a
# population's arrays (nk_lay; NKSHELL_CHUNK_GAP sets how many, 0 none).
# Spikes, monitors, pop:get, sources and a checkpoint continued with another
# thread count must not see where the entries are.
cat >"$WORK/gaps.lua" <<'EOF'
local lif = {tau_m = 20, C_m = 200, v_rest = -49, v_reset = -60, v_thresh = -50, t_ref = 5}
local net = nk.network{dt = 0.1, seed = 3, output = "gaps.h5"}
local exc = net:population("lif", 1600, {name = "exc", params = lif,
                                         init = {v = nk.uniform(-60, -50)}})
local inh = net:population("lif", 400, {name = "inh", params = lif,
                                        init = {v = nk.uniform(-60, -50)}})
for _, post in ipairs{exc, inh} do
  net:connect(exc, post, {rule = "bernoulli", p = 0.02, weight = 16.2, synapse = "exp_curr",
                          receptor = "e", params = {tau_syn = 5}})
  net:connect(inh, post, {rule = "bernoulli", p = 0.02, weight = -90, delay = 0.3,
                          synapse = "exp_curr", receptor = "i", params = {tau_syn = 10}})
end
net:source("poisson", exc:slice(1, 900), {rate = 50, weight = 20, receptor = "e"})
net:source("spike_times", inh, {times = {1, 2, 3}, weight = 30, receptor = "e"})
net:source("dc", exc:slice(700, 1000), {amplitude = 30})
local sp = net:monitor("spikes", exc)
local st = net:monitor("state", exc, {vars = {"v", "e.isyn"}, every = 10})
local fld = net:monitor("field", inh, {vars = {"v"}})
net:run(100)
net:checkpoint("gaps.ckpt.h5")
net:run(100)
local out = {}
local h = 0
local ts, ids = sp:times(), sp:ids()
for k = 1, #ts do h = (h * 31 + math.floor(ts[k] * 10 + 0.5) * 7 + ids[k]) % 2147483647 end
out[#out + 1] = #ts .. " " .. h
for _, var in ipairs{"v", "e.isyn"} do
  local rows = st:values(var)
  for r = 1, #rows, 37 do out[#out + 1] = string.format("%a %a", rows[r][1], rows[r][#rows[r]]) end
end
local fv = fld:values()
out[#out + 1] = string.format("%a %a", fv[1], fv[#fv])
for k = 1, #exc, 97 do out[#out + 1] = string.format("%a %a", exc:get("v", k), exc:get("e.isyn", k)) end
-- continued from the checkpoint with 3 threads: the same end state
local again = nk.restore("gaps.ckpt.h5", {output = "gaps2.h5"})
again:set_threads(3)
again:run(100)
local e2 = again:populations()[1]
for k = 1, #e2, 97 do out[#out + 1] = string.format("%a %a", e2:get("v", k), e2:get("e.isyn", k)) end
print(table.concat(out, "\n"))
EOF
for gap in 0 3 16 ""; do
    run -- env NKSHELL_CHUNK_GAP=$gap "$NK" --threads 2 gaps.lua
    expect_rc 0
    if [ "$gap" = 0 ]; then cp "$WORK/out" "$WORK/dense.out"
    else compare "NKSHELL_CHUNK_GAP='$gap' against 0" "$(cat "$WORK/dense.out")" "$WORK/out"; fi
done
[ "$(head -1 "$WORK/dense.out" | cut -d' ' -f1)" -gt 100 ] 2>/dev/null ||
    fail "too few spikes to compare: $(head -1 "$WORK/dense.out")"
run -- env NKSHELL_CHUNK_GAP=lots "$NK" --threads 2 gaps.lua
expect_rc 1
grep -q "NKSHELL_CHUNK_GAP: expected a whole number of entries from 0 to 1048576, got 'lots'" \
    "$WORK/err" || fail "no message for a bad NKSHELL_CHUNK_GAP: $(cat "$WORK/err")"
end_case

# A network closed by a metamethod inside another call is freed once that
# call is over; the shell sweeps after each chunk it runs (here each -e), so
# the results file is let go before the next chunk starts.
begin "net:close inside a call: done after the chunk"
run -- "$NK" -e 'A = nk.network{output = "closed.h5"}; p = A:population("lif", 2); A:run(1)
P = nk.network{}
function held(f) -- a checkpoint refused as it would overwrite an open network'"'"'s file
  local ok, err = pcall(P.checkpoint, P, f)
  return not ok and tostring(err):find("open network", 1, true) ~= nil
end
pcall(A.source, A, "dc", p, setmetatable({}, {__index = function() A:close() return 1 end}))
print(tostring(A), "held", held("closed.h5"))' \
    -e 'print("held", held("closed.h5"))'
expect_rc 0
expect_out "network (closed)	held	true
held	false"
end_case

echo "# $((TOTAL - FAILED)) of $TOTAL cases passed"
[ "$FAILED" -eq 0 ]
