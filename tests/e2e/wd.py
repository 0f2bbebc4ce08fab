"""A minimal W3C WebDriver client (standard library only), enough to drive tauri-driver."""

import base64
import json
import urllib.error
import urllib.request


class WebDriverError(Exception):
    pass


class Session:
    def __init__(self, url, capabilities, timeout=60):
        self.url = url.rstrip("/")
        body = {"capabilities": {"alwaysMatch": capabilities}}
        value = self._call("POST", "/session", body, timeout=timeout)
        self.id = value["sessionId"]

    def _call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                payload = json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            payload = json.loads(e.read() or b"{}")
            v = payload.get("value", {})
            raise WebDriverError(f"{method} {path}: {v.get('error')}: {v.get('message')}") from None
        return payload.get("value")

    def cmd(self, method, path, body=None, timeout=60):
        return self._call(method, f"/session/{self.id}{path}", body, timeout)

    def quit(self):
        try:
            self._call("DELETE", f"/session/{self.id}", timeout=10)
        except Exception:
            pass

    def handles(self):
        return self.cmd("GET", "/window/handles")

    def switch(self, handle):
        self.cmd("POST", "/window", {"handle": handle})

    def title(self):
        return self.cmd("GET", "/title")

    def url_now(self):
        return self.cmd("GET", "/url")

    def execute(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def execute_async(self, script, *args, timeout=60):
        return self.cmd("POST", "/execute/async", {"script": script, "args": list(args)}, timeout=timeout)

    def screenshot(self, path):
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)

    def close_window(self):
        return self.cmd("DELETE", "/window")

    def find(self, css):
        v = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(v.values()))

    def click(self, element):
        self.cmd("POST", f"/element/{element}/click", {})

    def send_keys(self, element, text):
        self.cmd("POST", f"/element/{element}/value", {"text": text})

    def text(self, element):
        return self.cmd("GET", f"/element/{element}/text")

