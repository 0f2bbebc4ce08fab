// The fixtures Rust writes (ui/src/lib/bindings/fixtures/, by crates/core/tests/ui_fixtures.rs),
// picked by host: what the in-memory backend shows comes from here, never from made-up text.
import type { Host } from "../bindings/Host";
import { DOCTOR_FAILS, DOCTOR_REPORTS } from "../bindings/fixtures/doctor";
import { SETTINGS, type SettingsFixture } from "../bindings/fixtures/settings";
import { SETUP, type SetupFixture } from "../bindings/fixtures/setup";

export type { DoctorScenario } from "../bindings/fixtures/doctor";
export type { SettingsFixture, SetupFixture };

/** The hosts the fixtures cover, by the core's name for them (`Host`'s Display). */
export const HOSTS = {
  "macos-aarch64": { os: "macos", arch: "aarch64" },
  "linux-x86_64": { os: "linux", arch: "x86_64" },
} as const satisfies Record<string, Host>;
export type HostName = keyof typeof HOSTS;

export function isHostName(s: string | null): s is HostName {
  return s !== null && s in HOSTS;
}

export function setupFixtures(host: HostName): SetupFixture {
  return SETUP[host];
}

export function settingsFixtures(host: HostName): SettingsFixture {
  return SETTINGS[host];
}

/** The doctor's reports on `host`, where the core could write them (macOS: see doctor.ts). */
export function doctorFixtures(host: HostName) {
  const reports = DOCTOR_REPORTS[host];
  return reports ? { reports, fails: DOCTOR_FAILS[host] } : null;
}
