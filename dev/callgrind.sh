#!/usr/bin/env bash
# Instructions per create on the server, counted by callgrind: repeatable on a
# noisy machine, since it counts instructions executed, not time.
#
#   dev/callgrind.sh [--requests N] [--warmup N] [--rounds R] [--connections C]
#                    [--in-flight D] [--top K] [--keep DIR] [--no-build]
#
# What it does:
#  1. builds iriskd and irisk-bench in release mode (unless --no-build);
#  2. starts `valgrind --tool=callgrind` on iriskd --store memory on a scratch socket
#     and waits until the socket answers;
#  3. drives --warmup creates (default 2,000; not counted), then zeroes the counters
#     (callgrind_control --zero);
#  4. --rounds times (default 2): drives exactly --requests creates (default 20,000)
#     with irisk-bench (--connections 1 --in-flight 16 by default, --warmup 0, so
#     exactly N calls), then dumps the counters (callgrind_control --dump); each dump
#     holds that round's instructions (Ir) only: Ir per create = dump total / N;
#  5. stops the server with SIGTERM (its PID only), prints per round Ir/create, Ir by
#     object (library), calls per create of malloc/free/retain/release/syscalls, and the
#     top K functions by self and inclusive Ir (demangled);
#  6. removes its scratch folder (--keep DIR copies the dumps there first, for
#     callgrind_annotate or kcachegrind).
#
# Two workarounds for Debian 12's valgrind 3.19 (both leave the measured code as built):
#  - it cannot read the DWARF 5 debug info of Swift 6.3's toolchain ("unhandled dwarf2
#    abbrev form code 0x25", then it gives up): the server runs from a copy with the
#    debug sections stripped (objcopy --strip-debug); the symbol table stays, so
#    functions keep their names (no source lines);
#  - it crashes (SIGSEGV inside valgrind) when a program calls sigsuspend() with a mask
#    in read-only memory, as libdispatch's main thread does after dispatch_main: a
#    small LD_PRELOAD shim copies the mask to the stack first (one call per process).
#
# Everything counted is the server's: all its threads (NIO event loops, Swift
# concurrency pool), user space only (not the kernel's share of socket I/O). The
# connection's accept, preface and close fall in the first measured round; they are
# a fixed cost of well under 1% of a round (compare the rounds).
set -euo pipefail
cd "$(dirname "$0")/.."

requests=20000
warmup=2000
rounds=2
connections=1
in_flight=16
top=15
keep=""
build=1
startup_timeout=300

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --in-flight) in_flight="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
for n in "$requests" "$warmup" "$rounds" "$connections" "$in_flight" "$top"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "not a number: $n" >&2; exit 2; }
done
[ "$requests" -ge 1 ] && [ "$rounds" -ge 1 ] || { echo "--requests and --rounds must be at least 1" >&2; exit 2; }

# What this needs beyond the build: valgrind (callgrind_control, callgrind_annotate's
# package), objcopy (binutils), a C compiler for the shim, python3 for the report.
want=()
command -v valgrind >/dev/null || want+=(valgrind)
command -v objcopy >/dev/null || want+=(binutils)
command -v cc >/dev/null || want+=(gcc)
command -v python3 >/dev/null || want+=(python3)
if [ ${#want[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${want[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${want[@]}" >/dev/null
fi

if [ "$build" -eq 1 ]; then
  dev/setup.sh >/dev/null
  echo "building iriskd and irisk-bench (release)..."
  swift build -c release --product iriskd 2>&1 | tail -1
  swift build -c release --product irisk-bench 2>&1 | tail -1
fi
bin="$(swift build -c release --show-bin-path)"
[ -x "$bin/iriskd" ] && [ -x "$bin/irisk-bench" ] || { echo "no release build of iriskd and irisk-bench in $bin" >&2; exit 1; }

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain -- Sources Package.swift 2>/dev/null)" ]; then
  commit="$commit with uncommitted changes in Sources/ or Package.swift"
fi

scratch="$(mktemp -d /tmp/irisk-callgrind.XXXXXX)"
server_pid=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$server_pid" 2>/dev/null && kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$scratch"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

objcopy --strip-debug "$bin/iriskd" "$scratch/iriskd"
cat > "$scratch/sigsuspend_shim.c" <<'C'
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
/* valgrind 3.19 writes to the mask it is given; libdispatch's is read-only. */
int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    return (int)syscall(SYS_rt_sigsuspend, &copy, (long)(_NSIG / 8));
}
C
cc -O2 -shared -fPIC -o "$scratch/sigsuspend_shim.so" "$scratch/sigsuspend_shim.c"

socket="$scratch/iriskd.sock"
out="$scratch/callgrind.out"
echo "starting iriskd --store memory under callgrind (slow: ~50x)..."
env LD_PRELOAD="$scratch/sigsuspend_shim.so" \
  valgrind --tool=callgrind --callgrind-out-file="$out" \
  "$scratch/iriskd" --socket "$socket" --store memory >"$scratch/server.log" 2>&1 &
server_pid=$!

for ((i = 0; i < startup_timeout; i++)); do
  [ -S "$socket" ] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "iriskd under valgrind exited during startup:" >&2; tail -20 "$scratch/server.log" >&2; exit 1; }
  sleep 1
done
[ -S "$socket" ] || { echo "no socket after ${startup_timeout}s" >&2; tail -20 "$scratch/server.log" >&2; exit 1; }

# One run of exactly $1 creates; fails unless all $1 were answered OK.
drive() {
  local n="$1" label="$2"
  local json="$scratch/$label.json"
  "$bin/irisk-bench" --socket "$socket" --requests "$n" --warmup 0 --duration 1200 \
    --connections "$connections" --in-flight "$in_flight" --json >"$json" 2>"$scratch/$label.err" || {
    echo "irisk-bench ($label) failed:" >&2; cat "$scratch/$label.err" "$json" >&2; exit 1; }
  python3 - "$json" "$n" "$label" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1])); n = int(sys.argv[2]); label = sys.argv[3]
run = doc["runs"][0]
ok = run.get("calls", 0) - run.get("errors", 0)
print(f"  {label}: {run.get('calls')} calls, {run.get('errors')} errors, "
      f"{run.get('createsPerSecond', 0):,.0f} creates/s under callgrind")
if run.get("calls") != n or run.get("errors") or run.get("incomplete") or run.get("alreadyExisted"):
    sys.exit(f"{label}: expected {n} OK creates, got {json.dumps(run)[:600]}")
PY
}

control() {  # callgrind_control answers through vgdb; retry while the server is busy
  local tries=0
  until callgrind_control "$@" "$server_pid" >"$scratch/control.log" 2>&1 && grep -q "OK" "$scratch/control.log"; do
    tries=$((tries + 1))
    [ "$tries" -lt 10 ] || { echo "callgrind_control $* failed:" >&2; cat "$scratch/control.log" >&2; exit 1; }
    sleep 1
  done
}

echo "warm-up: $warmup creates (not counted)"
[ "$warmup" -gt 0 ] && drive "$warmup" warmup
control --zero
for ((r = 1; r <= rounds; r++)); do
  drive "$requests" "round$r"
  control --dump="round$r"
done

kill -TERM "$server_pid"
for _ in $(seq 1 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$server_pid" 2>/dev/null; then
  echo "iriskd did not stop within 60 s of SIGTERM; killing it" >&2
  kill -KILL "$server_pid" 2>/dev/null || true
fi
wait "$server_pid" 2>/dev/null || true
server_pid=""

dumps=()
for ((r = 1; r <= rounds; r++)); do dumps+=("$out.$r"); done
for d in "${dumps[@]}"; do [ -s "$d" ] || { echo "missing dump $d" >&2; ls -la "$scratch" >&2; exit 1; }; done

echo
echo "iriskd @ $commit, --store memory; irisk-bench --connections $connections --in-flight $in_flight"
echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); valgrind $(valgrind --version | sed 's/valgrind-//')"
python3 - "$requests" "$top" "${dumps[@]}" >"$scratch/report.txt" <<'PY'
import re, sys
from collections import defaultdict

n = int(sys.argv[1]); top = int(sys.argv[2]); files = sys.argv[3:]

def parse(path):
    """Self and inclusive Ir per function, self Ir per object, call counts per callee."""
    names = {"ob": {}, "fl": {}, "fn": {}}
    kind_of = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl", "fn": "fn", "cfn": "fn"}
    def name(kind, value):
        m = re.match(r"\((\d+)\)(?: (.*))?$", value)
        if not m:
            return value
        table = names[kind_of[kind]]
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), "?")
    self_ir = defaultdict(int); call_ir = defaultdict(int); obj_ir = defaultdict(int)
    calls_to = defaultdict(int); fn_obj = {}
    ob = fn = cfn = None; pending_call = None; total = None; npos = 1
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        c = line[0]
        if c.isdigit() or c in "+-*":
            parts = line.split()
            cost = int(parts[npos]) if len(parts) > npos else 0
            if pending_call is not None:
                if pending_call != fn:
                    call_ir[fn] += cost
                pending_call = None
            else:
                self_ir[fn] += cost
                obj_ir[ob] += cost
            continue
        key, _, value = line.partition("=")
        if key == "ob":
            ob = name(key, value)
        elif key == "fn":
            fn = name(key, value); fn_obj.setdefault(fn, ob)
        elif key in ("cob", "cfi", "cfl", "fl", "fi", "fe"):
            name(key, value)
        elif key == "cfn":
            cfn = name(key, value)
        elif key == "calls":
            count = int(value.split()[0])
            calls_to[cfn] += count
            pending_call = cfn
        elif line.startswith("positions:"):
            npos = len(line.split()[1:])
        elif line.startswith("summary:") or line.startswith("totals:"):
            total = int(line.split()[1])
    incl = {f: self_ir[f] + call_ir[f] for f in set(self_ir) | set(call_ir)}
    return dict(total=total if total is not None else sum(self_ir.values()), self=self_ir,
                incl=incl, obj=obj_ir, calls=calls_to, fn_obj=fn_obj)

runs = [parse(f) for f in files]
print(f"Ir per create ({n:,} creates per round):")
for i, r in enumerate(runs, 1):
    print(f"  round {i}: {r['total']:>15,} Ir  ->  {r['total'] / n:>10,.0f} Ir/create")
per = [r["total"] / n for r in runs]
if len(per) > 1:
    print(f"  spread between rounds: {100 * (max(per) - min(per)) / min(per):.2f}%")
last = runs[-1]  # the last round: no connection setup in it
T = last["total"]
print(f"\nThe figures below are round {len(runs)}'s, per create.")

def short(path):
    return (path or "?").rsplit("/", 1)[-1]
print("\nSelf Ir by object:")
for ob, ir in sorted(last["obj"].items(), key=lambda kv: -kv[1])[:10]:
    print(f"  {ir / n:>10,.0f}  {100 * ir / T:5.1f}%  {short(ob)}")

def calls(pattern):
    return sum(v for k, v in last["calls"].items() if re.fullmatch(pattern, k or ""))
groups = [
    ("malloc (+calloc, realloc, posix_memalign)", r"malloc|calloc|realloc|posix_memalign|aligned_alloc"),
    ("  of which for swift_allocObject (Swift objects)", r"swift_allocObject"),
    ("free", r"free|cfree"),
    ("swift_retain (every retain that reaches the runtime)", r"swift_(nonatomic_)?retain(_n)?"),
    ("  of which for swift_bridgeObjectRetain (String/Array storage)", r"swift_bridgeObjectRetain(_n)?"),
    ("swift_release (every release)", r"swift_(nonatomic_)?release(_n)?"),
    ("  of which for swift_bridgeObjectRelease", r"swift_bridgeObjectRelease(_n)?"),
    ("swift_task_create + swift_task_switch", r"swift_task_create(CommonImpl)?|swift_task_switch"),
    ("syscalls: read/readv/recvmsg", r"(__libc_)?(read|readv|recv|recvmsg)"),
    ("syscalls: write/writev/sendmsg", r"(__libc_)?(write|writev|send|sendmsg)"),
    ("syscalls: epoll_wait", r"epoll_wait|epoll_pwait"),
]
print("\nCalls per create:")
for label, pattern in groups:
    print(f"  {calls(pattern) / n:>8.2f}  {label}")

def strip_rec(f):
    return re.sub(r"'\d+$", "", f or "?")
merged_self = defaultdict(int)
for f, ir in last["self"].items():
    merged_self[strip_rec(f)] += ir
print(f"\nTop {top} functions by self Ir (recursion levels merged):")
rows = sorted(merged_self.items(), key=lambda kv: -kv[1])[:top]
for f, ir in rows:
    print(f"  {ir / n:>9,.0f}  {100 * ir / T:5.1f}%  @@{f}@@")
print(f"\nTop {top} functions by inclusive Ir (self + callees; thread entry points and runtime")
print("trampolines left out; async code resumes through the executor, so read these as")
print("'under this frame', and expect overlap):")
skip = re.compile(r"clone|start_thread|.*ThreadOpsPosix.*|.*NIOThread.*|.*setupThreadAndRun.*|"
                  r"swift_job_run|swift::runJobInEstablishedExecutorContext.*|.*_dispatch_.*|"
                  r"swift_task_switch.*|.*\$sIetH_.*|.*TATQ.*|.*TQ\d+_.*|.*TY\d+_.*|"
                  r".*SelectableEventLoop.*run.*|.*withTaskCancellationHandler.*")
incl_rows = [(f, ir) for f, ir in last["incl"].items() if not skip.fullmatch(f or "") and "'" not in (f or "")]
for f, ir in sorted(incl_rows, key=lambda kv: -kv[1])[:top]:
    print(f"  {ir / n:>9,.0f}  {100 * ir / T:5.1f}%  @@{f}@@")
print(f"\nTop {top} of the project's own functions (IdentityRisk* modules) by inclusive Ir:")
own = [(f, ir) for f, ir in incl_rows if "IdentityRisk" in (f or "")]
for f, ir in sorted(own, key=lambda kv: -kv[1])[:top]:
    print(f"  {ir / n:>9,.0f}  {100 * ir / T:5.1f}%  @@{f}@@")
PY
# Demangle the marked Swift symbols, one per line, and cut very long names.
python3 - "$scratch/report.txt" <<'PY'
import re, subprocess, sys
text = open(sys.argv[1]).read()
syms = sorted(set(re.findall(r"@@(.*?)@@", text)))
demangled = dict(zip(syms, syms))
try:
    out = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(syms) + "\n",
                         capture_output=True, text=True, check=True).stdout.split("\n")
    demangled.update({s: d for s, d in zip(syms, out) if d})
except Exception:
    pass
def fix(m):
    d = demangled.get(m.group(1), m.group(1))
    return d if len(d) <= 150 else d[:147] + "..."
print(re.sub(r"@@(.*?)@@", fix, text), end="")
PY

if [ -n "$keep" ]; then
  mkdir -p "$keep"
  cp "${dumps[@]}" "$scratch/server.log" "$keep/"
  echo "kept: ${dumps[*]##*/} server.log in $keep"
fi
