// What a test (or the query string in a plain browser) can set up in the in-memory backend.
import type { SetupStepId } from "../bindings/SetupStepId";
import { isHostName, type HostName } from "./fixtures";

export interface MemoryOptions {
  /** The machine the fake app runs on: which fixtures it shows. */
  host: HostName;
  /** Initial VM state. */
  initial: "stopped" | "running" | "failed";
  /** Milliseconds from Starting to Running (and Stopping to Stopped / 2). */
  bootMs: number;
  /** Milliseconds each setup command takes. */
  stepMs: number;
  /** Milliseconds between metrics samples (the real app: 1000). */
  metricsMs: number;
  /** `vm_start` rejects with an ErrorReport. */
  startFails: boolean;
  /** The VM goes Starting -> Failed instead of Running. */
  bootFails: boolean;
  /** This setup step fails `failTimes` times (as the core reports it), then succeeds. */
  failStep: SetupStepId | null;
  failTimes: number;
  /** doctor_run rejects (the settings file is unreadable). */
  doctorFails: boolean;
  /** nix.conf is managed by nix-darwin: the plan carries a snippet, not a diff. */
  nixDarwin: boolean;
  /** The accelerator fell back to TCG; the status carries a notice (Linux only). */
  tcgFallback: boolean;
  /** Setup was already done: Nix is wired to the builder. */
  setupDone: boolean;
}

export const DEFAULT_OPTIONS: MemoryOptions = {
  host: "macos-aarch64",
  initial: "stopped",
  bootMs: 2500,
  stepMs: 350,
  metricsMs: 1000,
  startFails: false,
  bootFails: false,
  failStep: null,
  failTimes: 1,
  doctorFails: false,
  nixDarwin: false,
  setupDone: false,
  tcgFallback: false,
};

/**
 * Options from a query string: `?scenario=NAME` picks a preset, and single options
 * override it (`boot`, `step`, `metrics` in ms, `fail=<step id>`, `failTimes=N`, `state`,
 * `host=macos-aarch64|linux-x86_64`).
 * Scenarios: setup-fails-once, setup-fails, start-fails, boot-fails, running, failed,
 * doctor-ok (set up and running), doctor-error, nix-darwin, setup-done, tcg (Linux, running,
 * fell back to TCG), fast.
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
      Object.assign(o, { setupDone: true, initial: "running" });
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
      Object.assign(o, { host: "linux-x86_64", tcgFallback: true, initial: "running" });
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
  const host = q.get("host");
  if (isHostName(host)) o.host = host;
  return o;
}
