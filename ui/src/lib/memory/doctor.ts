// The doctor's report the core wrote for the fake's situation (fixtures/doctor.ts): before
// setup, with the builder's port taken, after setup with the builder stopped or running.
import type { DoctorReport } from "../bindings/DoctorReport";
import type { ErrorReport } from "../bindings/ErrorReport";
import { doctorFixtures, type DoctorScenario, type HostName } from "./fixtures";
import { clone } from "./timers";

export interface DoctorSituation {
  setUp: boolean;
  running: boolean;
  portTaken: boolean;
  /** The settings file is unreadable: doctor_run rejects. */
  settingsUnreadable: boolean;
}

export function scenarioOf(s: DoctorSituation): DoctorScenario {
  if (s.portTaken && !s.running) return "portBusy";
  if (!s.setUp) return "notSetUp";
  return s.running ? "setUpRunning" : "setUpStopped";
}

/** The report, or the rejection, as `doctor_run` would answer. */
export function doctorRun(host: HostName, s: DoctorSituation): DoctorReport {
  const fx = doctorFixtures(host);
  if (!fx)
    throw {
      message: `The in-memory backend has no doctor report for ${host}`,
      hint: "The core writes doctor fixtures for macOS only: on Linux its QEMU check reads this machine's /dev/kvm.",
      fields: [],
    } satisfies ErrorReport;
  if (s.settingsUnreadable) throw clone(fx.fails);
  return { ...clone(fx.reports[scenarioOf(s)]), generated_at_ms: Date.now() };
}
