#!/usr/bin/env bash
# tests/cli/run_repl_tests.sh - the interactive REPL, driven through a
# pseudo-terminal by ptyrun (tests/cli/ptyrun.c, a small expect).
#
# Usage: run_repl_tests.sh NKSHELL PTYRUN SRCDIR
#
# Prints "ok - NAME" or "not ok - NAME" (followed by what went wrong, each
# line prefixed with "# ") per case and exits non-zero if any case failed.
# Every session gets its own HOME under a temporary directory, so the
# user's history, ~/.nkshellrc and ~/.inputrc are never read or written.
# The sessions wait for the text they expect (never for fixed times), with
# a generous time limit per step for loaded machines.

set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 NKSHELL PTYRUN [SRCDIR]" >&2
    exit 2
fi

NK=$1
PTY=$2
case $NK in /*) ;; *) NK=$PWD/$NK ;; esac
case $PTY in /*) ;; *) PTY=$PWD/$PTY ;; esac
SRCDIR=${3:-.}
export LC_ALL=C
unset LUA_INIT LUA_INIT_5_4 INPUTRC
STEP_TIMEOUT=${NKSHELL_REPL_TIMEOUT:-20} # seconds per expected text

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nkshell-repl.XXXXXX") || exit 2
trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$WORK/cache}

# begin, fail, end_case; TOTAL and FAILED
. "$(dirname "${BASH_SOURCE[0]}")/cases.sh"

# ---------------------------------------------------------------- helpers

# home NAME: prints the path of a fresh (or the same, when it exists) home
# directory for sessions.
home() {
    mkdir -p "$WORK/home-$1"
    printf '%s' "$WORK/home-$1"
}

# session HOME [ENV=VALUE...] [-- NKSHELL-ARGS...] < SCRIPT: runs nkshell on
# a terminal in $WORK with HOME, following the ptyrun script on stdin;
# records ptyrun's report as a failure.
session() {
    local h=$1 out
    shift
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        envs+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift
    if ! out=$(cd "$WORK" && env HOME="$h" "${envs[@]}" \
        "$PTY" -t "$STEP_TIMEOUT" -o "$WORK/pty.log" - -- "$NK" "$@" 2>&1); then
        fail "$out"
    fi
}

# run [--in TEXT] -- CMD...: runs CMD in $WORK with TEXT on stdin; sets RC,
# stdout in $WORK/out, stderr in $WORK/err.
run() {
    local input=
    if [ "${1:-}" = --in ]; then
        input=$2
        shift 2
    fi
    [ "${1:-}" = -- ] && shift
    (cd "$WORK" && printf '%s' "$input" | "$@") >"$WORK/out" 2>"$WORK/err"
    RC=$?
}

expect_rc() {
    [ "$RC" -eq "$1" ] || fail "exit status: expected $1, got $RC (stderr: $(head -c 400 "$WORK/err"))"
}

# has FILE STRING: FILE contains the fixed string.
has() {
    grep -qF -e "$2" "$1" || fail "$(basename "$1") does not contain '$2'; it is:
$(head -c 1500 "$1")"
}

# lacks FILE STRING: FILE does not contain the fixed string.
lacks() {
    if grep -qF -e "$2" "$1"; then
        fail "$(basename "$1") contains '$2'"
    fi
}

# ---------------------------------------------------------------- checks

if [ ! -x "$PTY" ]; then
    echo "not ok - ptyrun is missing ($PTY)"
    exit 1
fi

# ptyrun itself must be able to fail, or nothing below means anything.
begin "ptyrun reports text that never comes"
if out=$(printf 'expect > \nsend print("a" .. "b")\\n\nexpect ac\n' |
    HOME=$(home ptyrun) "$PTY" -t 2 - -- "$NK" 2>&1); then
    fail "ptyrun succeeded waiting for text that never came"
else
    case $out in *"expected 'ac'"*) ;; *) fail "unexpected report: $out" ;; esac
fi
end_case

begin "banner, help() and a value"
session "$(home basic)" <<'EOF'
expect type help() for help, Ctrl-D to quit
expect > 
send help()\n
expect build and run spiking networks
expect Topics:
expect > 
send 6 * 7\n
expect 42
expect > 
send \x04
expect_exit 0
EOF
end_case

begin "completion: globals and fields (nk.ne<TAB> -> nk.network)"
session "$(home comp1)" <<'EOF'
expect > 
send print("got", nk.ne\t == nk.network)\n
expect got\ttrue
expect > 
send print("got", prin\t == print, string.fo\t == string.format)\n
expect got\ttrue\ttrue
expect > 
send s = "abc"\n
expect > 
send print("got", s:up\t())\n
expect got\tABC
expect > 
send .quit\n
expect_exit 0
EOF
end_case

begin "completion: methods of an nk object (net:po<TAB>), double Tab lists"
session "$(home comp2)" <<'EOF'
expect > 
send mynet = nk.network{}\n
expect > 
send print("got", #mynet:po\t
expect mynet:population
send s())\n
expect got\t0
expect > 
send nk.re\t\t
expect read_edges
expect restore
expect > 
send \x03
expect ^C
expect > 
send print("got", mynet.t\t + 1)\n
expect got\t1
expect > 
send .quit\n
expect_exit 0
EOF
end_case

begin "completion: model names in net:population(\", synapse = \""
session "$(home comp3)" <<'EOF'
expect > 
send n = nk.network{}\n
expect > 
send print("got", n:population("iaf_psc_e\t, 1).model)\n
expect got\tiaf_psc_exp
expect > 
send print("got", nk.model('alpha_cu\t).kind)\n
expect got\tsynapse
expect > 
send p = n:population("lif", 2); c = n:connect(p, p, {synapse = "exp_co\t})\n
expect > 
send print("got", c.synapse.name)\n
expect got\texp_cond
expect > 
send n:monitor("spi\t, p)\n
expect > 
send print("got", #n:monitors())\n
expect got\t1
expect > 
send .quit\n
expect_exit 0
EOF
end_case

begin "completion: option names, parameter and state names"
session "$(home comp4)" <<'EOF'
expect > 
send n = nk.network{se\t = 5}\n
expect > 
send print("got", n.seed)\n
expect got\t5
expect > 
send p = n:population("lif", 2, {pa\t = {tau\t = 12.5}, ini\t = {v = -61}})\n
expect > 
send print("got", p:param("tau_m"), p:get("v", 1))\n
expect got\t12.5\t-61
expect > 
send q = n:population("izhikevich", 1, {params = {\t\t
expect v_peak
expect > 
send \x03
expect ^C
expect > 
send .quit\n
expect_exit 0
EOF
end_case

begin "completion: file names inside strings"
mkdir -p "$WORK/fixture_dir"
printf 'content-abc' >"$WORK/fixture_dir/data_file_xyz.txt"
session "$(home comp5)" <<'EOF'
expect > 
send f = io.open("fixture_d\tdata_fi\t); print("got", f:read("a")); f:close()\n
expect got\tcontent-abc
expect > 
send .quit\n
expect_exit 0
EOF
end_case

begin "completion: a file name in a string is one word, '~/' is the home directory"
# '~', '/', '-' and '.' broke the word, so '~/' completed against '/'
h=$(home comp5b)
mkdir -p "$h/hdir_only_here" "$WORK/fix-ture.d"
: >"$h/hdir_only_here/file_in_home.txt"
: >"$WORK/fix-ture.d/data-v1.txt"
session "$h" <<'EOF'
expect > 
send print("got", "~/hdir_o\tfile_in\t)\n
expect got\t~/hdir_only_here/file_in_home.txt
expect > 
send print("got", 'fix-t\tdata-\t)\n
expect got\tfix-ture.d/data-v1.txt
expect > 
send print("got", nk.network{se\t = 3}.seed)\n
expect got\t3
expect > 
send .quit\n
expect_exit 0
EOF
end_case

begin ".quit with an argument is refused, the session goes on"
session "$(home quitarg)" <<'EOF'
expect > 
send .quit now\n
expect .quit and .exit take no argument, got 'now' (the session goes on)
expect > 
send print("still", 1 + 1)\n
expect still\t2
expect > 
send .exit\n
expect_exit 0
EOF
end_case

begin "completion: a Lua error in the completer gives no candidates"
session "$(home comp6)" <<'EOF'
expect > 
send require("nkshell.complete").complete = function() error("bo" .. "om") end\n
expect > 
send nk.ne\t\t\t
sleep 200
send \x03
expect ^C
expect > 
send print("still" .. "alive")\n
expect stillalive
expect > 
send .quit\n
expect_exit 0
EOF
lacks "$WORK/pty.log" boom
end_case

begin "multi-line input: continuation prompt, completion across lines"
session "$(home multi)" <<'EOF'
expect > 
send function twice(x)\n
expect >> 
send   return 2 * x\n
expect >> 
send end\n
expect > 
send print("got", twice(21))\n
expect got\t42
expect > 
send n = nk.network{}; p = n:population("lif", 1, {\n
expect >> 
send ini\t = {v = -62}})\n
expect > 
send print("got", p:get("v", 1))\n
expect got\t-62
expect > 
send y = (string\n
expect >> 
send .upper)("abc")\n
expect > 
send print("got", y)\n
expect got\tABC
expect > 
send .quit\n
expect_exit 0
EOF
end_case

begin "Ctrl-C at the prompt clears the line; history across sessions"
h=$(home hist)
session "$h" <<'EOF'
expect > 
send half typed line
expect half typed line
send \x03
expect ^C
expect > 
send x_hist = 6 * 7\n
expect > 
send .quit\n
expect_exit 0
EOF
hist=$h/.nkshell_history
if [ -f "$hist" ]; then
    has "$hist" 'x_hist = 6 * 7'
    lacks "$hist" 'half typed'
    [ "$(stat -c %a "$hist")" = 600 ] || fail "history file mode is $(stat -c %a "$hist")"
else
    fail "no history file was written"
fi
session "$h" <<'EOF'
expect > 
send \e[A\e[A
expect x_hist = 6 * 7
send \n
expect > 
send print("got", x_hist + 0)\n
expect got\t42
EOF
end_case

begin "a long run shows its progress; Ctrl-C stops it; the session and the network go on; a short run shows none"
session "$(home run)" <<'EOF'
expect > 
send net = nk.network{dt = 0.1}; pop = net:population("lif", 10)\n
expect > 
send net:run(1e9)\n
expect ms
expect steps/s
expect real-time factor
expect ETA
send \x03
expect interrupted at t =
expect > 
send t1 = net.t; print("stopped", t1 > 0 and t1 < 1e9)\n
expect stopped\ttrue
expect > 
send net:run(10); print("moved", math.abs(net.t - t1 - 10) < 1e-6)\n
expect moved\ttrue
reject steps/s
expect > 
send .quit\n
expect_exit 0
EOF
end_case

begin "dot-commands: .help, .timer, .load, .history, unknown, .quit"
cat >"$WORK/loadme.lua" <<'EOF'
loaded_value = 40 + 2
print("loaded " .. loaded_value)
EOF
printf 'error("load boom")\n' >"$WORK/loadbad.lua"
session "$(home dot)" <<'EOF'
expect > 
send .help\n
expect .history [N]
expect .timer on|off
expect > 
send .timer on\n
expect > 
send 1 + 1\n
expect time: 
expect > 
send .timer off\n
expect > 
send .load loadme.lua\n
expect loaded 42
expect > 
send .load loadbad.lua\n
expect loadbad.lua:1: load boom
expect > 
send print("got", loaded_value)\n
expect got\t42
expect > 
send .history 2\n
expect .load loadbad.lua
expect print("got", loaded_value)
expect > 
send .frob\n
expect unknown command '.frob'
expect > 
send .ti\t on\n
expect > 
send 2 + 2\n
expect time: 
expect > 
send .quit\n
expect_exit 0
EOF
end_case

begin "dot-commands in piped input with -i"
run --in $'.timer on\nx = 1 + 1\n.history\n.frob\nprint("x is", x)\n.quit\nprint("not reached")\n' -- "$NK" -i
expect_rc 0
has "$WORK/out" 'x = 1 + 1'
has "$WORK/out" $'x is\t2'
lacks "$WORK/out" 'not reached'
has "$WORK/err" 'time: '
has "$WORK/err" "unknown command '.frob'"
end_case

begin "LUA_INIT and LUA_INIT_5_4 (code and @file), -E ignores them"
printf 'init_file_value = "from-file"\n' >"$WORK/init.lua"
run -- env LUA_INIT='init_value = "from-init"' "$NK" -e 'print(init_value)'
expect_rc 0
has "$WORK/out" from-init
run -- env LUA_INIT="@$WORK/init.lua" "$NK" -e 'print(init_file_value)'
expect_rc 0
has "$WORK/out" from-file
run -- env LUA_INIT='v = "plain"' LUA_INIT_5_4='v = "versioned"' "$NK" -e 'print(v)'
has "$WORK/out" versioned
run -- env LUA_INIT='v = "plain"' "$NK" -E -e 'print(v)'
expect_rc 0
has "$WORK/out" nil
run -- env LUA_INIT='error("init boom")' "$NK" -e 'print("not reached")'
expect_rc 1
has "$WORK/err" 'LUA_INIT:1: init boom'
lacks "$WORK/out" 'not reached'
end_case

begin "~/.nkshellrc runs in interactive sessions; its errors are reported"
h=$(home rc)
printf 'rc_value = 99\n' >"$h/.nkshellrc"
session "$h" <<'EOF'
expect > 
send print("got", rc_value)\n
expect got\t99
EOF
run -- env HOME="$h" "$NK" -e 'print("batch", rc_value)'
has "$WORK/out" $'batch\tnil'
h=$(home rcbad)
printf 'rc_ok = 1\nerror("rc boom")\n' >"$h/.nkshellrc"
session "$h" <<'EOF'
expect .nkshellrc:2: rc boom
expect > 
send print("got", rc_ok)\n
expect got\t1
EOF
session "$h" -- -E <<'EOF'
expect > 
send print("got", rc_ok)\n
expect got\tnil
EOF
lacks "$WORK/pty.log" 'rc boom'
end_case

begin "\$if nkshell in INPUTRC"
cat >"$WORK/inputrc" <<'EOF'
$if nkshell
"\C-xq": "print('from' .. '-inputrc')"
$endif
$if otherapp
"\C-xw": "print('wrong' .. '-app')"
$endif
EOF
session "$(home inputrc)" INPUTRC="$WORK/inputrc" <<'EOF'
expect > 
send \x18q\n
expect from-inputrc
expect > 
send \x18w\n
sleep 300
send \x03
expect ^C
EOF
lacks "$WORK/pty.log" 'wrong-app'
end_case

begin "--sandbox: a bad model exits 1, no model is a usage error"
run -- "$NK" --sandbox no_such_model_xyz
expect_rc 1
has "$WORK/err" no_such_model_xyz
run -- "$NK" --sandbox
expect_rc 2
has "$WORK/err" "option '--sandbox' needs a model name"
run -- "$NK" --help
has "$WORK/out" '--sandbox MODEL'
has "$WORK/out" ' -E '
end_case

echo "# $((TOTAL - FAILED)) of $TOTAL cases passed"
[ "$FAILED" -eq 0 ]
