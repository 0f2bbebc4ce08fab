#!/usr/bin/env python3
"""The real Builderbar app end to end: Xvfb + trayer (tray host) + tauri-driver/WebKitWebDriver.

Started by tests/e2e/run.sh inside `dbus-run-session`. Standard library only (wd.py is a tiny
W3C WebDriver client; harness.py the home, display, tray host and cleanup shared with the idle
benchmark). The tray is really clicked with xdotool: the icon in trayer, then the
menu item by keyboard (Down/Return) in the GTK menu it opens. With the real UI (ui/dist) the
flow reads the dashboard and the console from the DOM and clicks/types there; with the
placeholder page it drives the same IPC commands the UI would call.
"""

import argparse
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from wd import Session, WebDriverError  # noqa: E402

# A window that is still loading can refuse WebDriver calls for a moment.
wait_for = functools.partial(harness.wait_for, retry_on=(WebDriverError, OSError))

INVOKE = """
const [cmd, args, done] = arguments;
window.__TAURI_INTERNALS__.invoke(cmd, args).then(v => done({ok: v === undefined ? null : v}), e => done({err: e}));
"""

# Attaches a console stream the way backend.ts does (a Channel is `__CHANNEL__:<callback id>`),
# collecting the text in window.__e2eConsole and showing it in #out.
ATTACH_CONSOLE = """
const done = arguments[0];
window.__e2eConsole = '';
const dec = new TextDecoder();
const id = window.__TAURI_INTERNALS__.transformCallback(raw => {
  const msg = raw && raw.message !== undefined ? raw.message : raw;
  const bytes = msg instanceof ArrayBuffer ? new Uint8Array(msg) : new Uint8Array(msg || []);
  window.__e2eConsole += dec.decode(bytes, {stream: true});
  const out = document.getElementById('out');
  if (out) out.textContent = window.__e2eConsole.slice(-6000);
});
window.__TAURI_INTERNALS__.invoke('console_attach', {onData: '__CHANNEL__:' + id}).then(() => done(true), e => done(e));
"""


class Flow:
    def __init__(self, a):
        self.a = a
        self.out = a.out
        self.step_no = 0
        self.notes = []
        self.d = None  # the harness.Desktop: home, display, tray host, processes

    # ---------- helpers ----------
    def log(self, msg):
        print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def shot(self, name, window=True):
        self.step_no += 1
        base = os.path.join(self.out, f"{self.step_no:02d}-{name}")
        subprocess.run(["import", "-window", "root", base + "-screen.png"], env=self.d.env, check=False)
        if window:
            try:
                self.s.screenshot(base + ".png")
            except WebDriverError as e:
                self.log(f"window screenshot failed: {e}")
        self.log(f"screenshot {base}")

    def invoke(self, cmd, args=None):
        r = self.s.execute_async(INVOKE, cmd, args or {})
        if "err" in r:
            raise RuntimeError(f"{cmd} failed: {json.dumps(r['err'])}")
        return r["ok"]

    def xdo(self, *args):
        return self.d.xdo(*args)

    def menus(self):
        return [g for _, g in self.d.app_windows() if g["HEIGHT"] > 100 and g["Y"] < 60]

    def close_tray_menu(self):
        self.xdo("key", "Escape")
        wait_for("the tray menu to close", lambda: not self.menus(), timeout=10)

    def open_tray_menu(self):
        if self.menus():
            self.close_tray_menu()
        self.d.click_tray_icon()
        menu = wait_for("the tray menu", self.menus, timeout=10)
        time.sleep(0.5)  # the menu grabs the keyboard once mapped
        return menu

    def tray_choose(self, downs):
        """Opens the tray menu and activates the `downs`-th enabled item by keyboard."""
        self.open_tray_menu()
        self.xdo("key", *(["Down"] * downs))
        time.sleep(0.2)

    def our_app_pids(self):
        """builderbar-app processes of this test (found by their BUILDERBAR_HOME)."""
        pids = subprocess.run(["pgrep", "-x", "builderbar-app"], capture_output=True, text=True).stdout.split()
        mine = []
        for pid in pids:
            try:
                env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
            except OSError:
                continue
            if f"BUILDERBAR_HOME={self.d.home}".encode() in env:
                mine.append(pid)
        return mine

    def cli(self, *args):
        r = subprocess.run([self.a.cli, *args], env=self.d.env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"builderbar {' '.join(args)}: {r.returncode} {r.stderr}"
        return r

    def tray_state(self):
        return self.invoke("app_tray_state")

    def handle_for(self, label):
        for h in self.s.handles():
            try:
                self.s.switch(h)
                if self.s.url_now().endswith("#/" + label):
                    return h
            except Exception as e:  # a window still loading can refuse for a moment
                self.log(f"window {h} not ready: {e}")
        return None

    def use(self, label, timeout=30):
        h = wait_for(f"the {label} window", lambda: self.handle_for(label), timeout=timeout)
        self.s.switch(h)
        return h

    def body_text(self):
        return self.s.execute("return document.body ? document.body.innerText : ''") or ""

    def show_state(self, status):
        if not self.real_ui:
            self.s.execute("document.getElementById('state').textContent = arguments[0]", "state: " + json.dumps(status))

    def wait_state(self, want, timeout):
        def check():
            st = self.invoke("vm_status")
            self.show_state(st)
            if st["state"] == "failed":
                raise RuntimeError(f"the builder failed: {st}")
            return st if st["state"] == want else None

        st = wait_for(f"state {want}", check, timeout=timeout, interval=0.5)
        if self.real_ui:
            wait_for(f"the dashboard to show {want}", lambda: want.lower() in self.body_text().lower(), timeout=10)
        return st

    # ---------- the flow ----------
    def run(self):
        a = self.a
        self.real_ui = a.ui == "real"
        home, port = harness.make_home("bb-e2e-", a.image)
        # A real language tag: under LANG=C WebKit reports navigator.language "C", which Intl rejects.
        # WebKitWebDriver's screenshots hang under the app's Linux defaults (GDK_GL=disable,
        # compositing off; see linux_webkit_defaults): the test opts out of them (set = kept).
        env = {"LANG": "en_US.UTF-8"}
        for key, value in (("WEBKIT_DISABLE_COMPOSITING_MODE", "0"), ("GDK_GL", "")):
            env[key] = os.environ.get(key, value)
        self.d = harness.Desktop(home, out=self.out, env=env)
        self.d.env.pop("LC_ALL", None)
        display = self.d.display
        self.d.start()
        wd_port = port + 1 if port < 65000 else 4444
        self.d.spawn(
            "tauri-driver",
            [a.tauri_driver, "--port", str(wd_port), "--native-port", str(wd_port + 1),
             "--native-driver", a.native_driver],
        )

        def listening(p):
            with socket.socket() as c:
                return c.connect_ex(("127.0.0.1", p)) == 0

        # tauri-driver listens at once; WebKitWebDriver behind it takes a moment longer.
        wait_for("tauri-driver and WebKitWebDriver", lambda: listening(wd_port) and listening(wd_port + 1), timeout=20)
        self.log(f"home {home}, display :{display}, ui {a.ui}, image {a.image}")

        # 1. Launch: the dashboard opens; the tray says Stopped.
        t0 = time.monotonic()
        self.s = Session(
            f"http://127.0.0.1:{wd_port}",
            {"tauri:options": {"application": a.app, "args": ["--open", "dashboard"]}},
        )
        self.use("dashboard")
        self.log(f"launched in {time.monotonic() - t0:.1f} s")
        tray = self.tray_state()
        assert tray["state"] == "stopped" and tray["toggle_label"] == "Start Builder", tray
        self.show_state(self.invoke("vm_status"))
        self.shot("dashboard-stopped")

        # 2. Start from the tray menu's toggle (a real click on the icon in trayer).
        self.tray_choose(1)
        self.shot("tray-menu-start", window=False)
        self.xdo("key", "Return")
        t0 = time.monotonic()
        wait_for("Starting in the tray", lambda: self.tray_state()["state"] in ("starting", "running"), timeout=15)
        self.log("the tray toggle started the builder")

        # 3. Running in the dashboard (and the tray).
        self.wait_state("running", timeout=a.boot_timeout)
        self.log(f"running {time.monotonic() - t0:.1f} s after the click")
        wait_for("the tray line with CPU and memory", lambda: "CPU" in self.tray_state()["status_line"], timeout=5)
        if a.cli:
            st = json.loads(self.cli("status", "--json").stdout)
            assert st["state"] == "running", st
            self.log("`builderbar status` sees the builder the app started")
        self.shot("dashboard-running")
        self.open_tray_menu()
        self.shot("tray-menu-running", window=False)
        self.close_tray_menu()

        # 4. The console window (opened from the tray menu) shows the guest's boot lines.
        self.tray_choose(3)  # Stop Builder, Dashboard…, Console…
        self.xdo("key", "Return")
        self.use("console")
        if self.real_ui:
            console_text = lambda: self.body_text()  # noqa: E731
        else:
            assert self.s.execute_async(ATTACH_CONSOLE) is True
            console_text = lambda: self.s.execute("return window.__e2eConsole || ''")  # noqa: E731
        wait_for("boot lines in the console", lambda: "BUILDERBAR-READY" in console_text(), timeout=20)
        self.shot("console-boot")

        # 5. Type a command; its output appears.
        cmd = "echo E2E-$((6*7))"
        if self.real_ui:
            box = self.s.find(".xterm-helper-textarea")
            self.s.send_keys(box, cmd + "\ue007")
        else:
            self.invoke("console_input", {"data": "\n"})
            self.invoke("console_input", {"data": cmd + "\n"})
        wait_for("the command's output", lambda: "E2E-42" in console_text(), timeout=20)
        self.shot("console-typed")
        # Capabilities are enforced: the console window may not stop the builder or save settings.
        for cmd in ("vm_stop", "settings_save", "app_quit"):
            r = self.s.execute_async(INVOKE, cmd, {})
            assert "err" in r and "not allowed" in json.dumps(r["err"]), f"{cmd} from the console window: {r}"
        self.log("the console window's capability refuses vm_stop, settings_save, app_quit")

        # 6. Stop from the UI; Stopped in the dashboard and the tray.
        self.use("dashboard")
        if self.real_ui:
            clicked = self.s.execute(
                "const b=[...document.querySelectorAll('button')].find(b=>/^\\s*stop\\b/i.test(b.textContent));"
                "if(b){b.click();return true}return false"
            )
            assert clicked, "no Stop button in the dashboard"
        else:
            self.invoke("vm_stop")
        self.wait_state("stopped", timeout=60)
        tray = self.tray_state()
        assert tray["state"] == "stopped" and tray["status_line"] == "Stopped", tray
        self.shot("dashboard-stopped-again")
        self.open_tray_menu()
        self.shot("tray-menu-stopped", window=False)
        self.close_tray_menu()

        # 7. A second launch hands over to the first (which shows its dashboard) and exits.
        #    (WebDriver's "close window" closes the page but not the native window, so the
        #    dashboard stays open here; the first app logs the hand-over.)
        self.use("console")
        t0 = time.monotonic()
        second = subprocess.run([a.app], env=self.d.env, capture_output=True, timeout=30)
        assert second.returncode == 0, second
        self.log(f"second launch exited with 0 after {time.monotonic() - t0:.1f} s")
        wait_for("the first app to log the hand-over", lambda: "second launch" in self.d.app_log(), timeout=10)
        self.use("dashboard", timeout=15)
        n = len(self.our_app_pids())
        assert n == 1, f"{n} app processes with our BUILDERBAR_HOME"
        self.log("the first app showed its dashboard; one app process")
        self.shot("second-launch-focuses-first")

        # 8. The CLI and the app act on the same builder: a terminal start/stop shows in the
        #    tray within a second (file events on the VM directory, no polling).
        if a.cli:
            self.cli("start")
            t0 = time.monotonic()
            wait_for("the tray to show the CLI's start", lambda: self.tray_state()["state"] != "stopped",
                     timeout=5, interval=0.05)
            seen = time.monotonic() - t0
            assert seen < 1.0, f"the tray showed the CLI's start after {seen:.2f} s"
            self.log(f"`builderbar start` showed in the tray after {seen:.2f} s")
            self.wait_state("running", timeout=a.boot_timeout)
            self.cli("stop")
            t0 = time.monotonic()
            wait_for("the tray to show the CLI's stop", lambda: self.tray_state()["state"] == "stopped",
                     timeout=5, interval=0.05)
            seen = time.monotonic() - t0
            assert seen < 1.0, f"the tray showed the CLI's stop after {seen:.2f} s"
            self.log(f"`builderbar stop` showed in the tray {seen:.2f} s after it returned")
            self.shot("cli-start-stop-seen")
        self.log("PASS")

    def cleanup(self):
        try:
            if getattr(self, "s", None):
                self.s.quit()
        finally:
            if self.d:
                self.d.cleanup(keep_home=bool(os.environ.get("BUILDERBAR_E2E_KEEP")))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--app", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--ui", choices=["real", "placeholder"], required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--tauri-driver", default=shutil.which("tauri-driver") or os.path.expanduser("~/.cargo/bin/tauri-driver"))
    p.add_argument("--native-driver", default=shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver")
    p.add_argument("--cli", help="the builderbar CLI, for the app/CLI steps")
    p.add_argument("--boot-timeout", type=int, default=180)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    f = Flow(a)
    try:
        f.run()
    except Exception as e:
        f.log(f"FAIL: {e}")
        try:
            f.shot("failure")
        except Exception:
            pass
        raise
    finally:
        f.cleanup()


if __name__ == "__main__":
    main()
