// Backend over Tauri IPC: exact command, argument and event names from docs/IPC.md.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { Backend, Unsubscribe, WindowKind } from "./backend";
import { EVENT_SETUP_STEP, EVENT_VM_STATUS, toBytes } from "./backend";
import type { BuilderInfo } from "./bindings/BuilderInfo";
import type { DoctorReport } from "./bindings/DoctorReport";
import type { FieldError } from "./bindings/FieldError";
import type { Host } from "./bindings/Host";
import type { ImageProgress } from "./bindings/ImageProgress";
import type { MetricsSample } from "./bindings/MetricsSample";
import type { Settings } from "./bindings/Settings";
import type { SettingsSaved } from "./bindings/SettingsSaved";
import type { SetupPlanView } from "./bindings/SetupPlanView";
import type { SetupStep } from "./bindings/SetupStep";
import type { TestBuildResult } from "./bindings/TestBuildResult";
import type { VmStatus } from "./bindings/VmStatus";

export class TauriBackend implements Backend {
  vmStatus() {
    return invoke<VmStatus>("vm_status");
  }
  vmStart() {
    return invoke<VmStatus>("vm_start");
  }
  vmStop() {
    return invoke<VmStatus>("vm_stop");
  }
  vmRestart() {
    return invoke<VmStatus>("vm_restart");
  }
  async consoleAttach(onData: (bytes: Uint8Array) => void) {
    const ch = new Channel<number[] | ArrayBuffer>();
    ch.onmessage = (m) => onData(toBytes(m));
    await invoke<void>("console_attach", { onData: ch });
  }
  consoleDetach() {
    return invoke<void>("console_detach");
  }
  consoleInput(data: string) {
    return invoke<void>("console_input", { data });
  }
  consoleSave() {
    return invoke<string>("console_save");
  }
  async metricsWatch(onSample: (s: MetricsSample) => void) {
    const ch = new Channel<MetricsSample>();
    ch.onmessage = onSample;
    await invoke<void>("metrics_watch", { onSample: ch });
  }
  metricsUnwatch() {
    return invoke<void>("metrics_unwatch");
  }
  settingsGet() {
    return invoke<Settings>("settings_get");
  }
  settingsValidate(settings: Settings) {
    return invoke<FieldError[]>("settings_validate", { settings });
  }
  settingsSave(settings: Settings) {
    return invoke<SettingsSaved>("settings_save", { settings });
  }
  doctorRun() {
    return invoke<DoctorReport>("doctor_run");
  }
  builderInfo() {
    return invoke<BuilderInfo>("builder_info");
  }
  setupSteps() {
    return invoke<SetupStep[]>("setup_steps");
  }
  setupPlan() {
    return invoke<SetupPlanView>("setup_plan");
  }
  setupApply() {
    return invoke<SetupStep[]>("setup_apply");
  }
  setupTestBuild() {
    return invoke<TestBuildResult>("setup_test_build");
  }
  async imageFetch(onProgress: (p: ImageProgress) => void) {
    const ch = new Channel<ImageProgress>();
    ch.onmessage = onProgress;
    return invoke<ImageProgress>("image_fetch", { onProgress: ch });
  }
  async imageHarden(onProgress: (p: ImageProgress) => void) {
    const ch = new Channel<ImageProgress>();
    ch.onmessage = onProgress;
    return invoke<ImageProgress>("image_harden", { onProgress: ch });
  }
  imageCancel() {
    return invoke<void>("image_cancel");
  }
  openWindow(kind: WindowKind) {
    return invoke<void>("open_window", { kind });
  }
  revealLogs() {
    return invoke<void>("reveal_logs");
  }
  appHost() {
    return invoke<Host>("app_host");
  }
  appQuit(stopBuilder: boolean) {
    return invoke<void>("app_quit", { stopBuilder });
  }
  async onVmStatus(cb: (s: VmStatus) => void): Promise<Unsubscribe> {
    return listen<VmStatus>(EVENT_VM_STATUS, (e) => cb(e.payload));
  }
  async onSetupStep(cb: (s: SetupStep) => void): Promise<Unsubscribe> {
    return listen<SetupStep>(EVENT_SETUP_STEP, (e) => cb(e.payload));
  }
}
