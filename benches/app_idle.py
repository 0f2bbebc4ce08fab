#!/usr/bin/env python3
"""The app at idle, measured (started by benches/app-idle.sh inside `dbus-run-session`):
RSS, PSS and CPU of the app's process tree (qemu excluded) with every window closed, then with
the dashboard open. The home, display, tray host and cleanup are tests/e2e/harness.py's.

    app_idle.py APP IMAGE DURATION REPORT UI
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import harness  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


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


def measure(pid, label, duration):
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
    cpu = 100.0 * used / TICK / elapsed
    names = ", ".join(sorted({c for _, c in tree}))
    return (f"{label:<16} {len(tree):>2} processes ({names})\n"
            f"{'':<16} RSS avg {sum(samples) / len(samples) / 1024:7.1f} MiB, peak {peak / 1024:7.1f} MiB "
            f"(PSS avg {sum(pss) / len(pss) / 1024:7.1f} MiB); "
            f"CPU {cpu:5.2f}% of one core over {elapsed:.0f} s")


def main():
    app, image, duration, report, ui = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    home, _ = harness.make_home("bb-bench-", image)
    d = harness.Desktop(home)
    try:
        d.start()
        first = d.spawn("app", [app, "--no-setup"])  # a fresh home needs setup: no window at launch
        try:
            harness.wait_for("the tray icon", d.tray_icon, timeout=30)
        except TimeoutError:
            print("windows:", d.xdo("search", "--onlyvisible", "--name", "."), file=sys.stderr)
            raise
        # Start the builder from the tray menu (Start Builder is the first enabled item).
        d.click_tray_icon()
        time.sleep(1)
        d.xdo("key", "Down", "Return")
        harness.wait_for("the builder to run", lambda: 'state="running"' in d.app_log(), timeout=180)
        time.sleep(5)
        assert not any(c.startswith("WebKit") for _, c in app_tree(first.pid)), "a window is open at rest"
        lines = [f"app-idle: release build, ui {ui}, builder running (TCG), {duration} s per phase"]
        lines.append(measure(first.pid, "windows closed", duration))
        print(lines[-1], flush=True)
        subprocess.run([app], env=d.env, timeout=30)
        harness.wait_for("the dashboard's web process",
                         lambda: any(c.startswith("WebKitWeb") for _, c in app_tree(first.pid)), timeout=30)
        time.sleep(5)
        lines.append(measure(first.pid, "dashboard open", duration))
        print(lines[-1], flush=True)
        with open(report, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"written to {report}")
    finally:
        d.cleanup()


if __name__ == "__main__":
    main()
