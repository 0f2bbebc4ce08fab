"""What the app's end-to-end test (tests/e2e/e2e.py) and its idle benchmark (benches/app_idle.py)
share: a throwaway Builderbar home with settings for the test guest, an X display (Xvfb) with a
tray host (trayer), the processes started on it, the app's tray icon and log, and one cleanup
that never leaves a qemu behind.

Standard library only. The image and the UI the app is built with are chosen by
tests/e2e/app-env.sh, which both scripts' shell wrappers source.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def wait_for(what, fn, timeout=60, interval=0.25, retry_on=(OSError,)):
    """Calls fn until it returns a truthy value; raises with `what` after timeout seconds.
    Exceptions in `retry_on` count as "not yet" (a window still loading, a connection reset)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except retry_on as e:
            last = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_home(prefix, image):
    """A fresh BUILDERBAR_HOME whose settings run `image` under TCG on a free port.
    Returns (home, port)."""
    home = tempfile.mkdtemp(prefix=prefix)
    os.makedirs(os.path.join(home, "data"))
    port = free_port()
    settings = {"cores": 1, "memory_mib": 768, "accelerator": "tcg", "port": port, "image": image}
    with open(os.path.join(home, "data", "settings.json"), "w") as f:
        json.dump(settings, f)
    return home, port


class Desktop:
    """Xvfb + trayer for one Builderbar home, and every process started on them.

    `out`: a directory for each process's log (None: discard output). `env`: extra environment
    for everything started here (the e2e test opts out of the app's WebKit defaults)."""

    TRAYER = ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel", "--width", "120",
              "--heighttype", "pixel", "--height", "28", "--SetDockType", "true", "--transparent", "false",
              "--expand", "false"]

    def __init__(self, home, out=None, env=None):
        self.home = home
        self.out = out
        self.procs = []
        self.display = next(n for n in range(90, 200) if not os.path.exists(f"/tmp/.X{n}-lock"))
        self.env = dict(os.environ, DISPLAY=f":{self.display}", NO_AT_BRIDGE="1", BUILDERBAR_HOME=home)
        self.env.update(env or {})

    # ---------- processes ----------
    def spawn(self, name, argv, **kw):
        """Starts argv in its own process group (stopped with it in `cleanup`)."""
        log = open(os.path.join(self.out, f"{name}.log"), "wb") if self.out else subprocess.DEVNULL
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True, **kw)
        self.procs.append((name, p))
        return p

    def start(self):
        """The X server, then the tray host."""
        self.spawn("xvfb", ["Xvfb", f":{self.display}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        wait_for("Xvfb", lambda: os.path.exists(f"/tmp/.X11-unix/X{self.display}"), timeout=10)
        self.spawn("trayer", self.TRAYER)

    # ---------- the screen ----------
    def xdo(self, *args):
        return subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True).stdout.strip()

    def geometry(self, wid):
        out = self.xdo("getwindowgeometry", "--shell", wid)
        g = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return {k: int(v) for k, v in g.items() if k in ("X", "Y", "WIDTH", "HEIGHT")}

    def app_windows(self):
        ids = self.xdo("search", "--onlyvisible", "--name", "^builderbar-app$").split()
        return [(w, self.geometry(w)) for w in ids]

    def tray_icon(self):
        """The app's status icon embedded in trayer (a small visible window in the top bar)."""
        for _, g in self.app_windows():
            if g and g["WIDTH"] <= 48 and g["HEIGHT"] <= 48 and g["Y"] < 40:
                return g
        return None

    def click_tray_icon(self, timeout=20):
        g = wait_for("the tray icon in trayer", self.tray_icon, timeout=timeout)
        self.xdo("mousemove", str(g["X"] + g["WIDTH"] // 2), str(g["Y"] + g["HEIGHT"] // 2), "click", "1")

    # ---------- the app ----------
    def app_log(self):
        """Everything the app has logged in this home."""
        logs = os.path.join(self.home, "logs")
        text = ""
        for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            with open(os.path.join(logs, name), errors="replace") as f:
                text += f.read()
        return text

    # ---------- the end ----------
    def kill_qemu(self):
        """Never leave a qemu behind: the pidfile in our home names it."""
        try:
            with open(os.path.join(self.home, "data", "vm", "qemu.pid")) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def stop_all(self):
        for _, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

    def cleanup(self, keep_home=False):
        self.kill_qemu()
        self.stop_all()
        if not keep_home:
            shutil.rmtree(self.home, ignore_errors=True)
