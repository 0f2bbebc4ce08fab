// The only door from the web UI to Rust. One typed interface, two implementations:
// TauriBackend (invoke / Channel / listen, per docs/IPC.md) and MemoryBackend
// (memory-backend.ts, for `npm run dev` in a browser, Vitest and Playwright).
import type { BuilderInfo } from "./bindings/BuilderInfo";
import type { DoctorReport } from "./bindings/DoctorReport";
import type { ErrorReport } from "./bindings/ErrorReport";
import type { FieldError } from "./bindings/FieldError";
import type { WindowKind } from "./bindings/fixtures/WindowKind";
import type { Host } from "./bindings/Host";
import type { ImageProgress } from "./bindings/ImageProgress";
import type { MetricsSample } from "./bindings/MetricsSample";
import type { Settings } from "./bindings/Settings";
import type { SettingsSaved } from "./bindings/SettingsSaved";
import type { SetupPlanView } from "./bindings/SetupPlanView";
import type { SetupStep } from "./bindings/SetupStep";
import type { TestBuildResult } from "./bindings/TestBuildResult";
import type { VmStatus } from "./bindings/VmStatus";

/** The app's windows, as src-tauri defines them (written by src-tauri/tests/ui_fixtures.rs). */
export { WINDOW_KINDS, type WindowKind } from "./bindings/fixtures/WindowKind";

export type Unsubscribe = () => void;

/** Event names (IPC.md, "Events"). */
export const EVENT_VM_STATUS = "vm://status";
export const EVENT_SETUP_STEP = "setup://step";

export interface Backend {
  /** `vm_status` */
  vmStatus(): Promise<VmStatus>;
  /** `vm_start`: resolves at Starting; Running arrives as a `vm://status` event. */
  vmStart(): Promise<VmStatus>;
  /** `vm_stop`: graceful; resolves at Stopped. */
  vmStop(): Promise<VmStatus>;
  /** `vm_restart` */
  vmRestart(): Promise<VmStatus>;
  /** `console_attach {onData: Channel<number[]>}`: first message is the history ring. */
  consoleAttach(onData: (bytes: Uint8Array) => void): Promise<void>;
  /** `console_detach` */
  consoleDetach(): Promise<void>;
  /** `console_input {data}` */
  consoleInput(data: string): Promise<void>;
  /** `console_save`: Rust shows the save dialog; resolves with the path written. */
  consoleSave(): Promise<string>;
  /** `metrics_watch {onSample: Channel<MetricsSample>}` */
  metricsWatch(onSample: (sample: MetricsSample) => void): Promise<void>;
  /** `metrics_unwatch` */
  metricsUnwatch(): Promise<void>;
  /** `settings_get` */
  settingsGet(): Promise<Settings>;
  /** `settings_validate {settings}`: no side effects. */
  settingsValidate(settings: Settings): Promise<FieldError[]>;
  /** `settings_save {settings}`: rejects with ErrorReport (with `fields`) when invalid. */
  settingsSave(settings: Settings): Promise<SettingsSaved>;
  /** `doctor_run` */
  doctorRun(): Promise<DoctorReport>;
  /** `builder_info` */
  builderInfo(): Promise<BuilderInfo>;
  /** `setup_steps` */
  setupSteps(): Promise<SetupStep[]>;
  /** `setup_plan`: runs checks, image and keys as needed, then shows the Plan. */
  setupPlan(): Promise<SetupPlanView>;
  /** `setup_apply`: the one OS authorization prompt; applies the Plan, restarts the daemon. */
  setupApply(): Promise<SetupStep[]>;
  /** `setup_test_build`: starts the builder if it is not running (its boot as step events). */
  setupTestBuild(): Promise<TestBuildResult>;
  /** `image_fetch {onProgress: Channel<ImageProgress>}`: stage 1 through Nix; resolves with
   * the final report (done, failed or cancelled). Joins a fetch that runs already. */
  imageFetch(onProgress: (p: ImageProgress) => void): Promise<ImageProgress>;
  /** `image_harden {onProgress}`: stage 2 built on stage 1, switched in one Plan. */
  imageHarden(onProgress: (p: ImageProgress) => void): Promise<ImageProgress>;
  /** `image_cancel`: stops the fetch or switch that runs; nothing is changed. */
  imageCancel(): Promise<void>;
  /** `open_window {kind}` */
  openWindow(kind: WindowKind): Promise<void>;
  /** `reveal_logs` */
  revealLogs(): Promise<void>;
  /** `app_host`: the machine the app runs on, for host-specific words and choices. */
  appHost(): Promise<Host>;
  /** `app_quit {stopBuilder}` */
  appQuit(stopBuilder: boolean): Promise<void>;
  /** Event `vm://status`. */
  onVmStatus(cb: (status: VmStatus) => void): Promise<Unsubscribe>;
  /** Event `setup://step`. */
  onSetupStep(cb: (step: SetupStep) => void): Promise<Unsubscribe>;
}

/** Whether a rejection value is an ErrorReport from Rust. */
export function isErrorReport(e: unknown): e is ErrorReport {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as ErrorReport).message === "string" &&
    typeof (e as ErrorReport).hint === "string"
  );
}

/** Any rejection as an ErrorReport (a plain Error or string becomes a message without hint). */
export function toErrorReport(e: unknown): ErrorReport {
  if (isErrorReport(e)) return { message: e.message, hint: e.hint, fields: e.fields ?? [] };
  if (e instanceof Error) return { message: e.message, hint: "", fields: [] };
  return { message: String(e), hint: "", fields: [] };
}

/** Channel payloads of bytes arrive as number[] (JSON) or as an ArrayBuffer (raw). */
export function toBytes(m: unknown): Uint8Array {
  if (m instanceof Uint8Array) return m;
  if (m instanceof ArrayBuffer) return new Uint8Array(m);
  if (Array.isArray(m)) return Uint8Array.from(m as number[]);
  if (typeof m === "string") return new TextEncoder().encode(m);
  return new Uint8Array(0);
}

let current: Backend | null = null;

/** The backend chosen at startup (main.ts) or injected by a test. */
export function backend(): Backend {
  if (!current) throw new Error("backend not initialised");
  return current;
}

export function setBackend(b: Backend): void {
  current = b;
}

export function inTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}
