// An in-memory Builderbar for `npm run dev` in a plain browser, Vitest and Playwright, built
// from what the core wrote (ui/src/lib/bindings/fixtures/): its doctor reports, setup steps,
// Plans, errors and settings answers are the core's for a fixed machine (see memory/). Only the
// VM's timing, console and metrics are made up, because a real guest cannot be a fixture.
//
// Tests configure it with options, or in the browser with the query string (see
// `optionsFromQuery`), and drive it through `window.__builderbar` (see main.ts).
import type { Backend, Unsubscribe, WindowKind } from "./backend";
import type { BuilderInfo } from "./bindings/BuilderInfo";
import type { DoctorReport } from "./bindings/DoctorReport";
import type { Host } from "./bindings/Host";
import type { ImageProgress } from "./bindings/ImageProgress";
import type { MetricsSample } from "./bindings/MetricsSample";
import type { Settings } from "./bindings/Settings";
import type { SettingsSaved } from "./bindings/SettingsSaved";
import type { SetupPlanView } from "./bindings/SetupPlanView";
import type { SetupStep } from "./bindings/SetupStep";
import type { TestBuildResult } from "./bindings/TestBuildResult";
import type { VmState } from "./bindings/VmState";
import type { VmStatus } from "./bindings/VmStatus";
import { MemoryConsole, type InputRecord } from "./memory/console";
import { doctorRun } from "./memory/doctor";
import { HOSTS, settingsFixtures, setupFixtures } from "./memory/fixtures";
import { MemoryMetrics } from "./memory/metrics";
import { DEFAULT_OPTIONS, type MemoryOptions } from "./memory/options";
import { MemorySettings } from "./memory/settings";
import { MemorySetup } from "./memory/setup";
import { Timers } from "./memory/timers";
import { MemoryVm } from "./memory/vm";

export { DEFAULT_OPTIONS, optionsFromQuery, type MemoryOptions } from "./memory/options";
export type { InputRecord };

export class MemoryBackend implements Backend {
  readonly opts: MemoryOptions;
  private readonly timers = new Timers();
  private readonly console: MemoryConsole;
  private readonly vm: MemoryVm;
  private readonly metrics: MemoryMetrics;
  private readonly settings: MemorySettings;
  private readonly setup: MemorySetup;
  /** The port the builder was started with (settings apply at the next start). */
  private startedPort: number;
  /** Every command call, in order (name only), for assertions. */
  readonly calls: string[] = [];
  /** Windows the UI asked to open. */
  readonly openedWindows: WindowKind[] = [];

  constructor(options: Partial<MemoryOptions> = {}) {
    this.opts = { ...DEFAULT_OPTIONS, ...options };
    const host = HOSTS[this.opts.host];
    const fx = setupFixtures(this.opts.host);
    this.settings = new MemorySettings(settingsFixtures(this.opts.host));
    this.startedPort = this.settings.get().port;
    const running = () => this.vm.name === "running";
    this.console = new MemoryConsole(host.arch, running);
    this.vm = new MemoryVm(this.opts, this.timers, this.console, {
      host,
      image: fx.image,
      port: () => this.startedPort,
    });
    this.metrics = new MemoryMetrics(this.opts.metricsMs, () => this.vm.name);
    this.setup = new MemorySetup(this.opts, this.timers, fx, running);
  }

  /** Stops every timer (tests call this in afterEach). */
  dispose(): void {
    this.timers.dispose();
    this.metrics.unwatch();
  }

  // ---- test hooks ---------------------------------------------------------------------

  /** As if `builderbar start/stop` ran in a terminal. */
  forceState(s: VmState): void {
    this.vm.set(s);
  }

  /** Bytes from the "serial port". */
  writeConsole(data: string | Uint8Array): void {
    this.console.write(data);
  }

  /** A burst of log lines on the console (see MemoryConsole.burst). */
  burst(total?: number, chunk?: number): number {
    return this.console.burst(total, chunk);
  }

  /** Everything typed into the console, in order. */
  get inputs(): InputRecord[] {
    return this.console.inputs;
  }

  /** How many metrics watchers are subscribed now. */
  get metricsWatchers(): number {
    return this.metrics.watchers;
  }

  // ---- VM ----------------------------------------------------------------------------

  async vmStatus() {
    this.calls.push("vm_status");
    return this.vm.status();
  }

  async vmStart() {
    this.calls.push("vm_start");
    if (this.vm.name === "stopped" || this.vm.name === "failed")
      this.startedPort = this.settings.get().port;
    return this.vm.start();
  }

  async vmStop() {
    this.calls.push("vm_stop");
    return this.vm.stop();
  }

  async vmRestart() {
    this.calls.push("vm_restart");
    await this.vm.stop();
    return this.vmStart();
  }

  async onVmStatus(cb: (s: VmStatus) => void): Promise<Unsubscribe> {
    return this.vm.onStatus(cb);
  }

  // ---- console -----------------------------------------------------------------------

  async consoleAttach(onData: (b: Uint8Array) => void) {
    this.calls.push("console_attach");
    this.console.attach(onData);
  }

  async consoleDetach() {
    this.calls.push("console_detach");
    this.console.detach();
  }

  async consoleInput(data: string) {
    this.console.input(data);
  }

  async consoleSave() {
    this.calls.push("console_save");
    return this.opts.host.startsWith("macos")
      ? "/Users/alice/Desktop/builderbar-console.log"
      : "/home/alice/builderbar-console.log";
  }

  // ---- metrics -----------------------------------------------------------------------

  async metricsWatch(onSample: (s: MetricsSample) => void) {
    this.calls.push("metrics_watch");
    this.metrics.watch(onSample);
  }

  async metricsUnwatch() {
    this.calls.push("metrics_unwatch");
    this.metrics.unwatch();
  }

  // ---- settings ----------------------------------------------------------------------

  async settingsGet() {
    this.calls.push("settings_get");
    return this.settings.get();
  }

  async settingsValidate(settings: Settings) {
    this.calls.push("settings_validate");
    return this.settings.validate(settings);
  }

  async settingsSave(settings: Settings): Promise<SettingsSaved> {
    this.calls.push("settings_save");
    const up = this.vm.status().pid !== null;
    return { restart_needed: this.settings.save(settings, up) };
  }

  // ---- doctor, builder info ----------------------------------------------------------

  async doctorRun(): Promise<DoctorReport> {
    this.calls.push("doctor_run");
    await this.timers.sleep(Math.min(300, this.opts.stepMs));
    return doctorRun(this.opts.host, {
      setUp: this.setup.applied,
      running: this.vm.name === "running",
      portTaken: this.setup.failing() === "checks",
      settingsUnreadable: this.opts.doctorFails,
    });
  }

  async builderInfo(): Promise<BuilderInfo> {
    this.calls.push("builder_info");
    return this.setup.builderInfo();
  }

  // ---- setup -------------------------------------------------------------------------

  async setupSteps() {
    this.calls.push("setup_steps");
    return this.setup.steps();
  }

  async setupPlan(): Promise<SetupPlanView> {
    this.calls.push("setup_plan");
    return this.setup.plan();
  }

  async setupApply() {
    this.calls.push("setup_apply");
    return this.setup.apply();
  }

  async setupTestBuild(): Promise<TestBuildResult> {
    this.calls.push("setup_test_build");
    return this.setup.testBuild();
  }

  async imageFetch(onProgress: (p: ImageProgress) => void): Promise<ImageProgress> {
    this.calls.push("image_fetch");
    return this.setup.imageFetch(onProgress);
  }

  async imageHarden(onProgress: (p: ImageProgress) => void): Promise<ImageProgress> {
    this.calls.push("image_harden");
    return this.setup.imageFetch(onProgress, "builderbar");
  }

  async imageCancel(): Promise<void> {
    this.calls.push("image_cancel");
    this.setup.imageCancel();
  }

  async onSetupStep(cb: (s: SetupStep) => void): Promise<Unsubscribe> {
    return this.setup.onStep(cb);
  }

  // ---- app ---------------------------------------------------------------------------

  async appHost(): Promise<Host> {
    this.calls.push("app_host");
    return { ...HOSTS[this.opts.host] };
  }

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
