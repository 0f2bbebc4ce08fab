import { describe, expect, it } from "vitest";
import type { FieldError } from "../bindings/FieldError";
import { SETTINGS } from "../bindings/fixtures/settings";
import type { Settings } from "../bindings/Settings";
import { HOSTS, type HostName } from "./fixtures";
import { answerFor, MemorySettings, restartNeeded } from "./settings";

const hosts = Object.keys(HOSTS) as HostName[];
const apply = (base: Settings, patch: Partial<Settings>): Settings => ({ ...base, ...patch });
// The UI shows each message beside its field, so the order across fields does not matter.
const sorted = (e: FieldError[]) =>
  [...e].sort((a, b) => (a.field + a.message).localeCompare(b.field + b.message));

describe.each(hosts)("settings answers on %s", (host) => {
  const table = SETTINGS[host];
  const base = table.base;
  const cases = table.cases;

  it("are the core's for every value it was asked about", () => {
    expect(cases.length).toBeGreaterThan(100);
    for (const c of cases) {
      const a = answerFor(table, apply(base, c.patch));
      expect(a.errors, JSON.stringify(c.patch)).toEqual(c.errors);
      expect(a.rejected, JSON.stringify(c.patch)).toEqual(c.rejected);
    }
  });

  it("combine single answers into the core's answer for several changes at once", () => {
    for (const c of table.combined) {
      const s = apply(base, c.patch);
      // No exact case exists: the answer is composed from single-field lookups.
      expect(cases.some((x) => JSON.stringify(apply(base, x.patch)) === JSON.stringify(s))).toBe(
        false,
      );
      const a = answerFor(table, s);
      expect(sorted(a.errors), JSON.stringify(c.patch)).toEqual(sorted(c.errors));
      expect(a.rejected === null, JSON.stringify(c.patch)).toBe(c.rejected === null);
      expect(restartNeeded(table, base, s), JSON.stringify(c.patch)).toBe(c.restart);
    }
  });

  it("say so for a value the core was never asked about", () => {
    const a = answerFor(table, apply(base, { cores: 7, memory_mib: 3000 }));
    expect(a.errors.map((e) => e.field)).toEqual(["memory_mib"]);
    expect(a.errors[0].message).toContain("never validated by the core");
    expect(a.rejected?.fields).toEqual(a.errors);
  });

  it("save like the app: rejected when invalid; a restart only while running and when needed", () => {
    const m = new MemorySettings(table);
    expect(m.get()).toEqual(base);
    expect(() => m.save(apply(base, { cores: 0 }), true)).toThrow();
    expect(m.save(apply(base, { notifications: true }), true)).toBe(false);
    expect(m.save(apply(base, { notifications: true, cores: 6 }), false)).toBe(false);
    expect(m.get().cores).toBe(6);
    // Compared with what was saved last, as settings_save does.
    expect(m.save(apply(base, { notifications: false, cores: 6 }), true)).toBe(false);
    expect(m.save(apply(base, { cores: 2 }), true)).toBe(true);
  });
});

describe("settings answers by host", () => {
  it("reject the accelerator the other OS has", () => {
    const mac = SETTINGS["macos-aarch64"];
    const linux = SETTINGS["linux-x86_64"];
    const fields = (t: typeof mac, accelerator: Settings["accelerator"]) =>
      answerFor(t, { ...t.base, accelerator }).errors.map((e) => e.field);
    expect(fields(mac, "kvm")).toEqual(["accelerator"]);
    expect(fields(mac, "hvf")).toEqual([]);
    expect(fields(linux, "hvf")).toEqual(["accelerator"]);
    expect(fields(linux, "kvm")).toEqual([]);
  });
});
