#!/usr/bin/env bash
# App idle cost: release build, builder VM running (test guest, TCG), 60 s each:
#   1. all windows closed (the app at rest: the Rust process alone),
#   2. the dashboard open (a second launch opens it in the first, as a user would).
# Measures RSS (sum of VmRSS) and CPU (% of one core) of every process of the app — the app
# and its WebKit children — excluding qemu. Runs under Xvfb with trayer as the tray host.
#
#   benches/app-idle.sh                 # DURATION=60 by default
#   DURATION=20 BUILDERBAR_E2E_IMAGE=DIR benches/app-idle.sh
#   BUILDERBAR_E2E_DIST=DIR benches/app-idle.sh    # a built UI other than ui/dist
#
# Needs what tests/e2e/run.sh needs (minus tauri-driver). Writes test-output/bench/app-idle.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DURATION=${DURATION:-60}
OUT=$ROOT/test-output/bench
mkdir -p "$OUT"

IMAGE=${BUILDERBAR_E2E_IMAGE:-}
[ -n "$IMAGE" ] || IMAGE=$("$ROOT/tests/guest/build.sh" | tail -n 1)
if [ -n "${BUILDERBAR_E2E_DIST:-}" ]; then
  UI=real
  export TAURI_CONFIG="{\"build\":{\"frontendDist\":\"$BUILDERBAR_E2E_DIST\"}}"
elif [ -f "$ROOT/ui/dist/index.html" ]; then
  UI=real
  unset TAURI_CONFIG
else
  UI=placeholder
  DIST=$CARGO_TARGET_DIR/e2e-placeholder-dist
  mkdir -p "$DIST"
  cp "$ROOT/tests/e2e/placeholder.html" "$DIST/index.html"
  export TAURI_CONFIG="{\"build\":{\"frontendDist\":\"$DIST\"}}"
fi
cargo build --release -p builderbar-app --features tauri/custom-protocol
APP=$CARGO_TARGET_DIR/release/builderbar-app

exec dbus-run-session -- python3 - "$APP" "$IMAGE" "$DURATION" "$OUT/app-idle.txt" "$UI" <<'PY'
import json, os, signal, socket, subprocess, sys, tempfile, time

app, image, duration, report, ui = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
tick = os.sysconf("SC_CLK_TCK")
home = tempfile.mkdtemp(prefix="bb-bench-")
os.makedirs(f"{home}/data")
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
json.dump({"cores": 1, "memory_mib": 768, "accelerator": "tcg", "port": port, "image": image},
          open(f"{home}/data/settings.json", "w"))
display = next(n for n in range(100, 200) if not os.path.exists(f"/tmp/.X{n}-lock"))
env = dict(os.environ, DISPLAY=f":{display}", NO_AT_BRIDGE="1", BUILDERBAR_HOME=home)
procs = []
def spawn(argv):
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    procs.append(p)
    return p
def wait(what, fn, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return
        time.sleep(0.25)
    raise SystemExit(f"timed out waiting for {what}")
def xdo(*a):
    return subprocess.run(["xdotool", *a], env=env, capture_output=True, text=True).stdout.strip()

def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                st = open(f"/proc/{p}/stat").read()
            except OSError:
                continue
            fields = st[st.rindex(")") + 2:].split()
            if int(fields[1]) == pid:
                out.append(int(p))
    return out

def app_tree(pid):
    """The app and its descendants, without qemu (the builder is not the app's cost)."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        try:
            comm = open(f"/proc/{p}/comm").read().strip()
        except OSError:
            continue
        if comm.startswith("qemu-system"):
            continue
        seen.append((p, comm))
        todo += children(p)
    return seen

def cpu_ticks(p):
    try:
        st = open(f"/proc/{p}/stat").read()
    except OSError:
        return 0
    f = st[st.rindex(")") + 2:].split()
    return int(f[11]) + int(f[12])

def rss_kib(p):
    try:
        for line in open(f"/proc/{p}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def pss_kib(p):
    """Proportional set size: shared library pages split among the processes that map them."""
    try:
        for line in open(f"/proc/{p}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def measure(pid, label):
    start = {p: cpu_ticks(p) for p, _ in app_tree(pid)}
    t0 = time.time()
    peak, samples, pss = 0, [], []
    while time.time() - t0 < duration:
        tree = app_tree(pid)
        total = sum(rss_kib(p) for p, _ in tree)
        samples.append(total)
        pss.append(sum(pss_kib(p) for p, _ in tree))
        peak = max(peak, total)
        for p, _ in tree:
            start.setdefault(p, cpu_ticks(p) if p not in start else start[p])
        time.sleep(1)
    elapsed = time.time() - t0
    tree = app_tree(pid)
    used = sum(cpu_ticks(p) - start.get(p, 0) for p, _ in tree)
    cpu = 100.0 * used / tick / elapsed
    names = ", ".join(sorted({c for _, c in tree}))
    return (f"{label:<16} {len(tree):>2} processes ({names})\n"
            f"{'':<16} RSS avg {sum(samples) / len(samples) / 1024:7.1f} MiB, peak {peak / 1024:7.1f} MiB "
            f"(PSS avg {sum(pss) / len(pss) / 1024:7.1f} MiB); "
            f"CPU {cpu:5.2f}% of one core over {elapsed:.0f} s")

try:
    spawn(["Xvfb", f":{display}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
    wait("Xvfb", lambda: os.path.exists(f"/tmp/.X11-unix/X{display}"), 10)
    spawn(["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel", "--width", "120",
           "--heighttype", "pixel", "--height", "28", "--SetDockType", "true", "--transparent", "false"])
    first = spawn([app, "--no-setup"])  # a fresh home needs setup: no window at launch
    def icon():
        for w in xdo("search", "--onlyvisible", "--name", "^builderbar-app$").split():
            g = dict(l.split("=", 1) for l in xdo("getwindowgeometry", "--shell", w).splitlines() if "=" in l)
            if g and int(g["WIDTH"]) <= 48 and int(g["Y"]) < 40:
                return g
    try:
        wait("the tray icon", icon, 30)
    except SystemExit:
        print("windows:", xdo("search", "--onlyvisible", "--name", "."), file=sys.stderr)
        raise
    g = icon()
    # Start the builder from the tray menu (Start Builder is the first enabled item).
    xdo("mousemove", str(int(g["X"]) + 10), str(int(g["Y"]) + 10), "click", "1")
    time.sleep(1)
    xdo("key", "Down", "Return")
    log = lambda: "".join(open(f"{home}/logs/{n}", errors="replace").read() for n in os.listdir(f"{home}/logs"))
    wait("the builder to run", lambda: 'state="running"' in log(), 180)
    time.sleep(5)
    assert not any(c.startswith("WebKit") for _, c in app_tree(first.pid)), "a window is open at rest"
    lines = [f"app-idle: release build, ui {ui}, builder running (TCG), {duration} s per phase"]
    lines.append(measure(first.pid, "windows closed"))
    print(lines[-1], flush=True)
    second = subprocess.run([app], env=env, timeout=30)
    wait("the dashboard's web process", lambda: any(c.startswith("WebKitWeb") for _, c in app_tree(first.pid)), 30)
    time.sleep(5)
    lines.append(measure(first.pid, "dashboard open"))
    print(lines[-1], flush=True)
    open(report, "w").write("\n".join(lines) + "\n")
    print(f"written to {report}")
finally:
    try:
        os.kill(int(open(f"{home}/data/vm/qemu.pid").read().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    for p in reversed(procs):
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    import shutil
    shutil.rmtree(home, ignore_errors=True)
PY
