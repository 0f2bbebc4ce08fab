// An in-memory Builderbar: the VM state machine with timers, a console that prints boot
// lines and echoes what is typed, 1 Hz metrics while watched, settings validation that
// mirrors the core's rules (crates/core/src/settings.rs) for the common cases, a doctor
// report with a failing check, and setup steps with a configurable failing step.
//
// Used by `npm run dev` in a plain browser, by Vitest and by Playwright. Tests configure
// it with options, or in the browser with the query string (see `optionsFromQuery`), and
// drive it through `window.__builderbar` (see main.ts).
import type { Backend, Unsubscribe, WindowKind } from "./backend";
import type { BuilderInfo } from "./bindings/BuilderInfo";
import type { DoctorCheck } from "./bindings/DoctorCheck";
import type { DoctorReport } from "./bindings/DoctorReport";
import type { ErrorReport } from "./bindings/ErrorReport";
import type { FieldError } from "./bindings/FieldError";
import type { MetricsSample } from "./bindings/MetricsSample";
import type { Settings } from "./bindings/Settings";
import type { SettingsSaved } from "./bindings/SettingsSaved";
import type { SetupPlanView } from "./bindings/SetupPlanView";
import type { SetupStep } from "./bindings/SetupStep";
import type { TestBuildResult } from "./bindings/TestBuildResult";
import type { VmState } from "./bindings/VmState";
import type { VmStatus } from "./bindings/VmStatus";

import type { SetupStepId } from "./bindings/SetupStepId";

export type { SetupStepId };
export const SETUP_STEP_IDS: SetupStepId[] = [
  "checks",
  "image",
  "keys",
  "authorize",
  "restart",
  "test-build",
];

export interface MemoryOptions {
  /** Initial VM state. */
  initial: "stopped" | "running" | "failed";
  /** Milliseconds from Starting to Running (and Stopping to Stopped / 2). */
  bootMs: number;
  /** Milliseconds per setup step phase. */
  stepMs: number;
  /** Milliseconds between metrics samples (the real app: 1000). */
  metricsMs: number;
  /** `vm_start` rejects with an ErrorReport. */
  startFails: boolean;
  /** The VM goes Starting -> Failed instead of Running. */
  bootFails: boolean;
  /** This setup step fails `failTimes` times, then succeeds. */
  failStep: SetupStepId | null;
  failTimes: number;
  /** Every doctor check passes. */
  doctorOk: boolean;
  /** doctor_run rejects. */
  doctorFails: boolean;
  /** nix.conf is managed by nix-darwin: the plan carries a snippet, not a diff. */
  nixDarwin: boolean;
  /** The accelerator fell back to TCG; the status carries a notice. */
  tcgFallback: boolean;
  /** Setup was already done: every step is Done. */
  setupDone: boolean;
  /** Host facts for validation. */
  cpus: number;
  memoryMib: number;
  busyPorts: number[];
}

export const DEFAULT_OPTIONS: MemoryOptions = {
  initial: "stopped",
  bootMs: 2500,
  stepMs: 350,
  metricsMs: 1000,
  startFails: false,
  bootFails: false,
  failStep: null,
  failTimes: 1,
  doctorOk: false,
  doctorFails: false,
  nixDarwin: false,
  setupDone: false,
  tcgFallback: false,
  cpus: 8,
  memoryMib: 16384,
  busyPorts: [8080],
};

/**
 * Options from a query string: `?scenario=NAME` picks a preset, and single options
 * override it (`boot`, `step`, `metrics` in ms, `fail=<step id>`, `failTimes=N`, `state`).
 * Scenarios: setup-fails-once, setup-fails, start-fails, boot-fails, running, failed,
 * doctor-ok, doctor-error, nix-darwin, setup-done, tcg (running, fell back to TCG), fast.
 */
export function optionsFromQuery(search: string): Partial<MemoryOptions> {
  const q = new URLSearchParams(search);
  const o: Partial<MemoryOptions> = {};
  switch (q.get("scenario")) {
    case "setup-fails-once":
      Object.assign(o, { failStep: "authorize", failTimes: 1 });
      break;
    case "setup-fails":
      Object.assign(o, { failStep: "authorize", failTimes: Infinity });
      break;
    case "start-fails":
      o.startFails = true;
      break;
    case "boot-fails":
      o.bootFails = true;
      break;
    case "running":
      o.initial = "running";
      break;
    case "failed":
      o.initial = "failed";
      break;
    case "doctor-ok":
      o.doctorOk = true;
      break;
    case "doctor-error":
      o.doctorFails = true;
      break;
    case "nix-darwin":
      o.nixDarwin = true;
      break;
    case "setup-done":
      o.setupDone = true;
      break;
    case "tcg":
      Object.assign(o, { tcgFallback: true, initial: "running" });
      break;
    case "fast":
      Object.assign(o, { bootMs: 200, stepMs: 30, metricsMs: 100 });
      break;
  }
  const num = (k: string) => (q.has(k) ? Number(q.get(k)) : undefined);
  if (num("boot") !== undefined) o.bootMs = num("boot");
  if (num("step") !== undefined) o.stepMs = num("step");
  if (num("metrics") !== undefined) o.metricsMs = num("metrics");
  if (q.has("fail")) o.failStep = q.get("fail") as SetupStepId;
  if (num("failTimes") !== undefined) o.failTimes = num("failTimes");
  const st = q.get("state");
  if (st === "stopped" || st === "running" || st === "failed") o.initial = st;
  return o;
}

const enc = new TextEncoder();
const HISTORY_LIMIT = 256 * 1024;
const PROMPT = "\x1b[1;32m[root@builder:~]#\x1b[0m ";

const BOOT_LINES = [
  "[    0.000000] Linux version 6.6.52 (nixbld@localhost) (gcc 13.2.0) #1-NixOS SMP",
  "[    0.000000] Command line: console=ttyAMA0 panic=1 boot.panic_on_fail loglevel=4",
  "[    0.012345] Memory: 3012MB available",
  "[    0.421337] virtio_blk virtio1: [vda] 41943040 512-byte logical blocks",
  "[    0.533210] 9pnet: Installing 9P2000 support",
  "<<< NixOS Stage 1 >>>",
  "loading module virtio_pci...",
  "mounting keys on /var/keys...",
  "<<< NixOS Stage 2 >>>",
  "running activation script...",
  "setting up /etc...",
  "[  OK  ] Started OpenSSH Daemon.",
  "[  OK  ] Reached target Multi-User System.",
  "",
  "<<< Welcome to NixOS 24.11 (aarch64) - ttyAMA0 >>>",
  "",
];

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function report(message: string, hint: string, fields: FieldError[] = []): ErrorReport {
  return { message, hint, fields };
}

const STEP_TITLES: Record<SetupStepId, string> = {
  checks: "Check this Mac",
  image: "Get the builder image",
  keys: "Create keys",
  authorize: "Authorize changes to Nix",
  restart: "Restart the Nix daemon",
  "test-build": "Test build",
};

/** The core's validation rules, for the values the settings window edits. */
export function validateSettings(
  s: Settings,
  host: { cpus: number; memoryMib: number; busyPorts: number[]; os: "macos" | "linux" },
): FieldError[] {
  const errs: FieldError[] = [];
  const bad = (field: string, message: string) => errs.push({ field, message });
  if (!Number.isInteger(s.cores) || s.cores < 1) bad("cores", "must be at least 1");
  else if (s.cores > host.cpus)
    bad("cores", `is ${s.cores}, but this machine has ${host.cpus} CPU cores`);
  if (!Number.isFinite(s.memory_mib) || s.memory_mib < 256)
    bad("memory_mib", `is ${s.memory_mib} MiB; the builder needs at least 256 MiB`);
  else if (s.memory_mib > host.memoryMib)
    bad(
      "memory_mib",
      `is ${s.memory_mib} MiB, more than this machine's ${host.memoryMib} MiB of memory`,
    );
  if (!Number.isFinite(s.disk_gib) || s.disk_gib < 1 || s.disk_gib > 4096)
    bad("disk_gib", `is ${s.disk_gib} GiB; choose 1 to 4096`);
  if (!Number.isInteger(s.port) || s.port < 1024 || s.port > 65535)
    bad("port", `is ${s.port}; ports below 1024 need root; choose 1024 to 65535`);
  else if (host.busyPorts.includes(s.port))
    bad("port", `127.0.0.1:${s.port} is already in use by another program; choose a free port`);
  if (s.accelerator === "hvf" && host.os === "linux")
    bad("accelerator", "hvf exists only on macOS; use auto, kvm or tcg");
  if (s.accelerator === "kvm" && host.os === "macos")
    bad("accelerator", "kvm exists only on Linux; use auto, hvf or tcg");
  if (
    s.on_demand &&
    (!Number.isFinite(s.idle_minutes) || s.idle_minutes < 1 || s.idle_minutes > 1440)
  )
    bad("idle_minutes", `is ${s.idle_minutes}; choose 1 to 1440 minutes`);
  if (s.stop_timeout_secs < 1 || s.stop_timeout_secs > 600)
    bad("stop_timeout_secs", `is ${s.stop_timeout_secs}; choose 1 to 600 seconds`);
  return errs;
}

/** A record of what the UI sent to the console, with when it arrived (for latency tests). */
export interface InputRecord {
  data: string;
  at: number;
}

export class MemoryBackend implements Backend {
  readonly opts: MemoryOptions;
  private state: VmState;
  private startedAt: number | null = null;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private statusListeners = new Set<(s: VmStatus) => void>();
  private stepListeners = new Set<(s: SetupStep) => void>();
  private consoleSubs = new Set<(b: Uint8Array) => void>();
  private metricsSubs = new Set<(s: MetricsSample) => void>();
  private metricsTimer: ReturnType<typeof setInterval> | null = null;
  private history: Uint8Array[] = [];
  private historyBytes = 0;
  private line = "";
  private settings: Settings;
  private appliedSettings: Settings;
  private steps: SetupStep[];
  private failuresLeft: number;
  private tick = 0;
  /** Everything typed into the console, in order. */
  readonly inputs: InputRecord[] = [];
  /** Every command call, in order (name only), for assertions. */
  readonly calls: string[] = [];
  /** Windows the UI asked to open. */
  readonly openedWindows: WindowKind[] = [];

  constructor(options: Partial<MemoryOptions> = {}) {
    this.opts = { ...DEFAULT_OPTIONS, ...options };
    this.failuresLeft = this.opts.failTimes;
    this.settings = {
      cores: 4,
      memory_mib: 3072,
      disk_gib: 40,
      port: 31022,
      accelerator: "auto",
      on_demand: false,
      idle_minutes: 180,
      image: null,
      stop_timeout_secs: 30,
      nix_conf_dir: null,
      ssh_config_dir: null,
      start_at_login: false,
      notifications: false,
    };
    this.appliedSettings = clone(this.settings);
    this.steps = SETUP_STEP_IDS.map((id) => ({
      id,
      title: STEP_TITLES[id],
      state: this.opts.setupDone ? "done" : "pending",
      detail: "",
      progress: null,
      error: null,
    }));
    if (this.opts.initial === "running") {
      this.state = { state: "running" };
      this.startedAt = Date.now() - 754_000;
      this.writeConsole(BOOT_LINES.join("\r\n") + "\r\n" + PROMPT);
    } else if (this.opts.initial === "failed") {
      this.state = this.failedState();
    } else {
      this.state = { state: "stopped" };
    }
  }

  /** Stops every timer (tests call this in afterEach). */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    this.metricsTimer = null;
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, ms);
    this.timers.add(t);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.later(ms, r));
  }

  private failedState(): VmState {
    return {
      state: "failed",
      reason: "The builder did not answer on 127.0.0.1:31022 within 120 s",
      hint: "Open the console to see where boot stopped, or run Doctor.",
      console_tail: [
        "<<< NixOS Stage 1 >>>",
        "loading module virtio_pci...",
        "mounting keys on /var/keys...",
        "mount: /var/keys: unknown filesystem type '9p'.",
        "An error occurred in stage 1 of the boot process.",
      ],
    };
  }

  // ---- VM ----------------------------------------------------------------------------

  status(): VmStatus {
    const s = this.state.state;
    const up = s === "running" || s === "starting" || s === "stopping";
    return {
      pid: up ? 48213 : null,
      port: up ? this.appliedSettings.port : null,
      accelerator: up ? (this.opts.tcgFallback ? "tcg" : "hvf") : null,
      image: up || s === "failed" ? "nixos-24.11-aarch64 (builderbar)" : null,
      started_at_ms: up ? this.startedAt : null,
      notice: up && this.opts.tcgFallback ? "KVM hung at boot; using TCG (slower emulation)" : null,
      ...this.state,
    } as VmStatus;
  }

  private setState(s: VmState): void {
    this.state = s;
    const st = this.status();
    for (const l of this.statusListeners) l(clone(st));
  }

  async vmStatus() {
    this.calls.push("vm_status");
    return this.status();
  }

  async vmStart() {
    this.calls.push("vm_start");
    if (this.opts.startFails)
      throw report(
        "qemu-system-aarch64 was not found",
        "Install QEMU (nix profile install nixpkgs#qemu) or set the image's qemu, then start again.",
      );
    const s = this.state.state;
    if (s === "running" || s === "starting") return this.status();
    if (s === "stopping") throw report("The builder is stopping", "Wait until it has stopped.");
    this.startedAt = Date.now();
    this.setState({ state: "starting" });
    const n = BOOT_LINES.length;
    BOOT_LINES.forEach((l, i) =>
      this.later((this.opts.bootMs * i) / (n + 1), () => this.writeConsole(l + "\r\n")),
    );
    this.later(this.opts.bootMs, () => {
      if (this.state.state !== "starting") return;
      if (this.opts.bootFails) {
        this.setState(this.failedState());
      } else {
        this.writeConsole(PROMPT);
        this.setState({ state: "running" });
      }
    });
    return this.status();
  }

  async vmStop() {
    this.calls.push("vm_stop");
    if (this.state.state === "stopped") return this.status();
    this.setState({ state: "stopping" });
    this.writeConsole("\r\n[  OK  ] Stopped target Multi-User System.\r\nreboot: Power down\r\n");
    await this.sleep(this.opts.bootMs / 2);
    this.startedAt = null;
    this.setState({ state: "stopped" });
    return this.status();
  }

  async vmRestart() {
    this.calls.push("vm_restart");
    await this.vmStop();
    this.appliedSettings = clone(this.settings);
    return this.vmStart();
  }

  async onVmStatus(cb: (s: VmStatus) => void): Promise<Unsubscribe> {
    this.statusListeners.add(cb);
    return () => this.statusListeners.delete(cb);
  }

  /** Test hook: as if `builderbar start/stop` ran in a terminal. */
  forceState(s: VmState): void {
    if (s.state === "running" || s.state === "starting") this.startedAt ??= Date.now();
    this.setState(s);
  }

  // ---- console -----------------------------------------------------------------------

  /** Bytes from the "serial port": into the ring and to every subscriber. */
  writeConsole(data: string | Uint8Array): void {
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    this.history.push(bytes);
    this.historyBytes += bytes.length;
    while (this.historyBytes > HISTORY_LIMIT && this.history.length > 1) {
      this.historyBytes -= this.history.shift()!.length;
    }
    for (const s of this.consoleSubs) s(bytes);
  }

  /**
   * Test hook: a burst of `total` bytes of log lines, delivered in chunks of `chunk` bytes
   * (like the Rust side's 64 KiB batches), all in one task unless `spread` is set.
   */
  burst(total = 1024 * 1024, chunk = 64 * 1024): number {
    const line = (i: number) =>
      `[${(i / 1000).toFixed(6).padStart(12)}] building '/nix/store/${i.toString(36).padStart(8, "0")}-hello-2.12.drv' \x1b[2m(${i})\x1b[0m\r\n`;
    let buf = "";
    let sent = 0;
    let i = 0;
    while (sent < total) {
      buf += line(i++);
      if (buf.length >= chunk || sent + buf.length >= total) {
        const b = enc.encode(buf.slice(0, total - sent));
        if (sent + b.length >= total && b.length >= 2) b.set([13, 10], b.length - 2); // end the line
        this.writeConsole(b);
        sent += b.length;
        buf = "";
      }
    }
    return sent;
  }

  async consoleAttach(onData: (b: Uint8Array) => void) {
    this.calls.push("console_attach");
    const total = new Uint8Array(this.historyBytes);
    let o = 0;
    for (const h of this.history) {
      total.set(h, o);
      o += h.length;
    }
    onData(total);
    this.consoleSubs.clear();
    this.consoleSubs.add(onData);
  }

  async consoleDetach() {
    this.calls.push("console_detach");
    this.consoleSubs.clear();
  }

  async consoleInput(data: string) {
    this.inputs.push({ data, at: Date.now() });
    if (this.state.state !== "running") return;
    for (const ch of data) {
      if (ch === "\r" || ch === "\n") {
        const cmd = this.line.trim();
        this.line = "";
        this.writeConsole("\r\n" + this.answer(cmd) + PROMPT);
      } else if (ch === "\x7f") {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, -1);
          this.writeConsole("\b \b");
        }
      } else if (ch >= " ") {
        this.line += ch;
        this.writeConsole(ch);
      }
    }
  }

  private answer(cmd: string): string {
    if (cmd === "") return "";
    if (cmd === "uname -a") return "Linux builder 6.6.52 #1-NixOS SMP aarch64 GNU/Linux\r\n";
    if (cmd === "hostname") return "builder\r\n";
    if (cmd.startsWith("echo ")) return cmd.slice(5) + "\r\n";
    return `-bash: ${cmd.split(" ")[0]}: command not found\r\n`;
  }

  async consoleSave() {
    this.calls.push("console_save");
    return "/Users/alice/Desktop/builderbar-console.log";
  }

  // ---- metrics -----------------------------------------------------------------------

  private sample(): MetricsSample {
    this.tick++;
    const booting = this.state.state === "starting";
    const base = booting ? 160 : 6;
    const cpu = Math.max(
      0,
      base + 25 * Math.sin(this.tick / 3) ** 2 + (this.tick % 7 === 0 ? 60 : 0),
    );
    const rss = (booting ? 900 : 1400) * 1024 * 1024 + 40 * 1024 * 1024 * Math.sin(this.tick / 5);
    return {
      at_ms: Date.now(),
      cpu_percent: Math.round(cpu * 10) / 10,
      rss_bytes: Math.round(rss),
    };
  }

  async metricsWatch(onSample: (s: MetricsSample) => void) {
    this.calls.push("metrics_watch");
    this.metricsSubs.add(onSample);
    if (!this.metricsTimer) {
      this.metricsTimer = setInterval(() => {
        const s = this.state.state;
        if (s !== "running" && s !== "starting" && s !== "stopping") return;
        const x = this.sample();
        for (const m of this.metricsSubs) m(x);
      }, this.opts.metricsMs);
    }
  }

  async metricsUnwatch() {
    this.calls.push("metrics_unwatch");
    this.metricsSubs.clear();
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    this.metricsTimer = null;
  }

  /** How many metrics watchers are subscribed now. */
  get metricsWatchers(): number {
    return this.metricsSubs.size;
  }

  // ---- settings ----------------------------------------------------------------------

  private host() {
    return {
      cpus: this.opts.cpus,
      memoryMib: this.opts.memoryMib,
      busyPorts: this.opts.busyPorts,
      os: "macos" as const,
    };
  }

  async settingsGet() {
    this.calls.push("settings_get");
    return clone(this.settings);
  }

  async settingsValidate(settings: Settings) {
    this.calls.push("settings_validate");
    return validateSettings(settings, this.host());
  }

  async settingsSave(settings: Settings): Promise<SettingsSaved> {
    this.calls.push("settings_save");
    const errs = validateSettings(settings, this.host());
    if (errs.length > 0)
      throw report("The settings were not saved", "Correct the fields marked in red.", errs);
    const a = this.appliedSettings;
    const vmChanged =
      settings.cores !== a.cores ||
      settings.memory_mib !== a.memory_mib ||
      settings.port !== a.port ||
      settings.accelerator !== a.accelerator ||
      settings.image !== a.image;
    this.settings = clone(settings);
    const up = this.state.state !== "stopped" && this.state.state !== "failed";
    if (!up) this.appliedSettings = clone(settings);
    return { restart_needed: up && vmChanged };
  }

  // ---- doctor, builder info ----------------------------------------------------------

  async doctorRun(): Promise<DoctorReport> {
    this.calls.push("doctor_run");
    await this.sleep(Math.min(300, this.opts.stepMs));
    if (this.opts.doctorFails)
      throw report(
        "Doctor could not run",
        "The state directory is not readable: check its permissions.",
      );
    const running = this.state.state === "running";
    const checks: DoctorCheck[] = [
      {
        id: "nix-installed",
        title: "Nix is installed",
        status: "pass",
        detail: "Nix 2.24.10",
        cause: null,
        fix: null,
      },
      {
        id: "nix-daemon",
        title: "Nix daemon",
        status: "pass",
        detail: "org.nixos.nix-daemon is running",
        cause: null,
        fix: null,
      },
      this.opts.doctorOk
        ? {
            id: "trusted-user",
            title: "Trusted user",
            status: "pass",
            detail: "alice is in trusted-users",
            cause: null,
            fix: null,
          }
        : {
            id: "trusted-user",
            title: "Trusted user",
            status: "fail",
            detail: "alice is not in trusted-users",
            cause: "Nix only lets trusted users use remote builders.",
            fix: "Run setup again, or add `trusted-users = root alice` to /etc/nix/nix.conf and restart the daemon.",
          },
      {
        id: "accelerator",
        title: "Accelerator",
        status: "pass",
        detail: "hvf available (Apple M2)",
        cause: null,
        fix: null,
      },
      {
        id: "port-free",
        title: "Builder port",
        status: "pass",
        detail: `port ${this.settings.port} on 127.0.0.1`,
        cause: null,
        fix: null,
      },
      this.opts.doctorOk
        ? {
            id: "qemu",
            title: "QEMU",
            status: "pass",
            detail: "qemu-system-aarch64 9.1.0",
            cause: null,
            fix: null,
          }
        : {
            id: "qemu",
            title: "QEMU",
            status: "warn",
            detail: "qemu-system-aarch64 8.0.4",
            cause: "QEMU before 8.2 is slower with HVF on macOS 14.",
            fix: "Update QEMU: nix profile upgrade qemu.",
          },
      running
        ? {
            id: "builder-reachable",
            title: "Builder reachable",
            status: "pass",
            detail: "ssh answered in 12 ms",
            cause: null,
            fix: null,
          }
        : {
            id: "builder-reachable",
            title: "Builder reachable",
            status: "skip",
            detail: "the builder is not running",
            cause: "The builder is stopped.",
            fix: "Start the builder, then run Doctor again.",
          },
    ];
    return { checks, generated_at_ms: Date.now() };
  }

  async builderInfo(): Promise<BuilderInfo> {
    this.calls.push("builder_info");
    const port = this.appliedSettings.port;
    return {
      uri: "ssh-ng://builder@builderbar-builder",
      port,
      systems: ["aarch64-linux"],
      machines_line:
        "ssh-ng://builder@builderbar-builder aarch64-linux /etc/nix/builderbar_ed25519 4 1 kvm,benchmark,big-parallel - c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUJ1aWxkZXJiYXI=",
      ssh_config: `Host builderbar-builder\n  HostName 127.0.0.1\n  Port ${port}\n  User builder\n`,
      wired: this.steps.find((s) => s.id === "authorize")?.state === "done",
    };
  }

  // ---- setup -------------------------------------------------------------------------

  private emitStep(id: SetupStepId, patch: Partial<SetupStep>): SetupStep {
    const i = this.steps.findIndex((s) => s.id === id);
    this.steps[i] = { ...this.steps[i], ...patch };
    const step = clone(this.steps[i]);
    for (const l of this.stepListeners) l(step);
    return step;
  }

  private shouldFail(id: SetupStepId): boolean {
    if (this.opts.failStep !== id || this.failuresLeft <= 0) return false;
    this.failuresLeft--;
    return true;
  }

  private failure(id: SetupStepId): ErrorReport {
    switch (id) {
      case "checks":
        return report(
          "alice is not in trusted-users",
          "Setup adds you to trusted-users when you authorize; or fix it by hand and retry.",
        );
      case "image":
        return report(
          "Downloading the builder image failed: connection reset",
          "Check your network connection and retry.",
        );
      case "keys":
        return report(
          "Cannot write ~/Library/Application Support/Builderbar/keys",
          "Check the folder's permissions and retry.",
        );
      case "authorize":
        return report(
          "Authorization was cancelled",
          "Nothing was changed. Retry and enter your password in the macOS prompt.",
        );
      case "restart":
        return report(
          "launchctl kickstart -k system/org.nixos.nix-daemon failed (exit 113)",
          "Run Doctor, then retry.",
        );
      case "test-build":
        return report(
          "The test build could not reach the builder",
          "Start the builder from the menu bar and retry.",
        );
    }
  }

  /** Runs one step; throws its ErrorReport when it is the failing one. */
  private async runStep(id: SetupStepId, detail: string): Promise<void> {
    const cur = this.steps.find((s) => s.id === id)!;
    if (cur.state === "done" || cur.state === "skipped") return;
    this.emitStep(id, { state: "running", detail: "", progress: null, error: null });
    if (id === "image") {
      for (let p = 1; p <= 4; p++) {
        await this.sleep(this.opts.stepMs / 2);
        this.emitStep(id, {
          progress: p / 4,
          detail: `Downloading nixos-24.11-aarch64 (${p * 120} of 480 MB)`,
        });
      }
    } else {
      await this.sleep(this.opts.stepMs);
    }
    if (this.shouldFail(id)) {
      const error = this.failure(id);
      this.emitStep(id, { state: "failed", progress: null, detail: "", error });
      throw error;
    }
    this.emitStep(id, { state: "done", progress: null, detail });
  }

  async setupSteps() {
    this.calls.push("setup_steps");
    return clone(this.steps);
  }

  async setupPlan(): Promise<SetupPlanView> {
    this.calls.push("setup_plan");
    await this.runStep("checks", "Nix 2.24.10, nix-daemon running, port 31022 free");
    await this.runStep("image", "nixos-24.11-aarch64 from the Builderbar cache");
    await this.runStep("keys", "ed25519 client and host keys created");
    if (this.opts.nixDarwin)
      return {
        diff: "",
        files: [],
        elevation: "none",
        restart: null,
        managed_by: "nix-darwin",
        darwin_snippet: [
          "nix.distributedBuilds = true;",
          "nix.settings.builders-use-substitutes = true;",
          "nix.buildMachines = [{",
          '  hostName = "builderbar-builder";',
          '  protocol = "ssh-ng";',
          '  systems = [ "aarch64-linux" ];',
          '  sshKey = "/etc/nix/builderbar_ed25519";',
          "  maxJobs = 4;",
          '  supportedFeatures = [ "kvm" "benchmark" "big-parallel" ];',
          '  publicHostKey = "c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUJ1aWxkZXJiYXI=";',
          "}];",
        ].join("\n"),
        already_applied: false,
      };
    return {
      diff: [
        "--- /etc/nix/nix.conf",
        "+++ /etc/nix/nix.conf",
        "@@ -1,4 +1,7 @@",
        " # Generated by the Nix installer",
        " build-users-group = nixbld",
        "-trusted-users = root",
        "+trusted-users = root alice",
        " experimental-features = nix-command flakes",
        "+# builderbar: begin",
        "+builders = @/etc/nix/machines",
        "+builders-use-substitutes = true",
        "+# builderbar: end",
        "--- /etc/nix/machines",
        "+++ /etc/nix/machines",
        "@@ -0,0 +1 @@",
        "+ssh-ng://builder@builderbar-builder aarch64-linux /etc/nix/builderbar_ed25519 4 1 kvm,benchmark,big-parallel - c3NoLWVkMjU1MTk=",
        "--- /dev/null",
        "+++ /etc/ssh/ssh_config.d/200-builderbar.conf",
        "@@ -0,0 +1,4 @@",
        "+Host builderbar-builder",
        "+  HostName 127.0.0.1",
        "+  Port 31022",
        "+  User builder",
      ].join("\n"),
      files: [
        "/etc/nix/nix.conf",
        "/etc/nix/machines",
        "/etc/ssh/ssh_config.d/200-builderbar.conf",
      ],
      elevation: "osascript",
      restart: "launchctl kickstart -k system/org.nixos.nix-daemon",
      managed_by: "plain",
      darwin_snippet: null,
      already_applied: false,
    };
  }

  async setupApply() {
    this.calls.push("setup_apply");
    try {
      await this.runStep("authorize", "3 files written; backups in /etc/nix/.builderbar-backup");
      await this.runStep("restart", "nix-daemon restarted");
    } catch {
      // The failing step carries its ErrorReport; the command reports it too.
      const failed = this.steps.find((s) => s.state === "failed");
      throw failed?.error ?? report("Setup failed", "");
    }
    return clone(this.steps);
  }

  async setupTestBuild(): Promise<TestBuildResult> {
    this.calls.push("setup_test_build");
    const t0 = Date.now();
    try {
      await this.runStep("test-build", "built on aarch64-linux in the builder");
    } catch (e) {
      return { ok: false, output: "", duration_ms: Date.now() - t0, error: e as ErrorReport };
    }
    return {
      ok: true,
      output: "Linux builder 6.6.52 aarch64\nbuilt /nix/store/0c8l3c6k6f4w-builderbar-test",
      duration_ms: Date.now() - t0 + 4100,
      error: null,
    };
  }

  async onSetupStep(cb: (s: SetupStep) => void): Promise<Unsubscribe> {
    this.stepListeners.add(cb);
    return () => this.stepListeners.delete(cb);
  }

  // ---- app ---------------------------------------------------------------------------

  async openWindow(kind: WindowKind) {
    this.calls.push("open_window");
    this.openedWindows.push(kind);
    if (
      typeof window !== "undefined" &&
      typeof location !== "undefined" &&
      !import.meta.env?.VITEST
    ) {
      // In a plain browser, "opening a window" navigates this one.
      location.hash = `#/${kind}`;
    }
  }

  async revealLogs() {
    this.calls.push("reveal_logs");
  }

  async appQuit(_stopBuilder: boolean) {
    this.calls.push("app_quit");
  }
}
