// Settings answers looked up in what the core answered (fixtures/settings.ts), never re-derived.
// The core recorded each field's values alone (on demand off and on); a form that changes several
// fields gets the union of their answers. The unit tests check that union against the core's own
// answers for combinations. A value the core was never asked about says so in its field.
import type { ErrorReport } from "../bindings/ErrorReport";
import type { FieldError } from "../bindings/FieldError";
import type { SettingsCase } from "../bindings/fixtures/settings";
import type { Settings } from "../bindings/Settings";
import type { SettingsFixture } from "./fixtures";
import { clone } from "./timers";

export interface SettingsAnswer {
  errors: FieldError[];
  /** What settings_save rejects with (null when valid). */
  rejected: ErrorReport | null;
}

type Key = keyof Settings;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** `s`'s values of `keys`. */
function patchOf(s: Settings, keys: Key[]): Partial<Settings> {
  const p: Partial<Settings> = {};
  for (const k of keys) (p as Record<Key, unknown>)[k] = s[k];
  return p;
}

function findCase(table: SettingsFixture, patch: Partial<Settings>): SettingsCase | undefined {
  const keys = Object.keys(patch).sort();
  return table.cases.find((c) => {
    const ck = Object.keys(c.patch).sort();
    return same(ck, keys) && keys.every((k) => same(c.patch[k as Key], patch[k as Key]));
  });
}

/** The fields of `s` that differ from `base`, on_demand apart (it is part of each lookup). */
function changedFields(base: Settings, s: Settings): Key[] {
  return (Object.keys(base) as Key[]).filter((k) => k !== "on_demand" && !same(s[k], base[k]));
}

/** The single-field cases that together describe `s` (each with on_demand as `s` has it). */
function casesFor(table: SettingsFixture, s: Settings): (SettingsCase | { missing: Key })[] {
  const base = table.base;
  const od: Key[] = s.on_demand !== base.on_demand ? ["on_demand"] : [];
  const fields = changedFields(base, s);
  const lookups: Key[][] = fields.length ? fields.map((k) => [...od, k]) : [od];
  return lookups.map((keys) => {
    const c = findCase(table, patchOf(s, keys));
    return c ?? { missing: keys[keys.length - 1] ?? "on_demand" };
  });
}

/** The core's answer for `s`: its field errors and what saving it would be rejected with. */
export function answerFor(table: SettingsFixture, s: Settings): SettingsAnswer {
  const errors: FieldError[] = [];
  let rejected: ErrorReport | null = null;
  for (const c of casesFor(table, s)) {
    if ("missing" in c) {
      errors.push({
        field: c.missing,
        message: `= ${JSON.stringify(s[c.missing])} was never validated by the core for the in-memory backend (add it to crates/core/tests/ui_fixtures.rs)`,
      });
      continue;
    }
    for (const e of c.errors)
      if (!errors.some((x) => x.field === e.field && x.message === e.message)) errors.push(e);
    rejected ??= c.rejected;
  }
  if (errors.length === 0) return { errors, rejected: null };
  // The core's message names every field; a union keeps the first case's words.
  return { errors, rejected: { ...(rejected ?? { message: "", hint: "" }), fields: errors } };
}

/** Whether a running builder must restart to apply `next` over `saved`: some changed field
 * is one whose change alone made the core say so. */
export function restartNeeded(table: SettingsFixture, saved: Settings, next: Settings): boolean {
  const cases = table.cases;
  const needs = (k: Key) =>
    cases.some((c) => c.restart && Object.keys(c.patch).length === 1 && k in c.patch);
  return (Object.keys(next) as Key[]).some((k) => !same(saved[k], next[k]) && needs(k));
}

export class MemorySettings {
  private saved: Settings;

  constructor(private readonly table: SettingsFixture) {
    this.saved = clone(table.base);
  }

  get(): Settings {
    return clone(this.saved);
  }

  validate(s: Settings): FieldError[] {
    return answerFor(this.table, s).errors;
  }

  /** Saves; resolves with whether a running builder must restart, or throws the rejection. */
  save(s: Settings, running: boolean): boolean {
    const a = answerFor(this.table, s);
    if (a.rejected) throw a.rejected;
    const restart = running && restartNeeded(this.table, this.saved, s);
    this.saved = clone(s);
    return restart;
  }
}
