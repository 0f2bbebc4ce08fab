// Each window may call only the commands its Tauri capability grants
// (src-tauri/capabilities/<window>.json). This reads every `b.<method>(` a view calls and
// checks it against that file, so a new call in the UI fails here instead of in the app.
// Skipped where src-tauri/ is not present.
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { WINDOW_KINDS } from "./lib/backend";

const root = process.cwd() + "/"; // vitest runs at the repository root
const viewFile: Record<string, string> = {
  dashboard: "Dashboard",
  console: "Console",
  settings: "Settings",
  doctor: "Doctor",
  setup: "Setup",
};

/** Backend method -> the permission the window needs. */
function permission(method: string): string {
  if (method === "onVmStatus" || method === "onSetupStep") return "core:event:allow-listen";
  return "allow-" + method.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

describe("capabilities", () => {
  for (const kind of WINDOW_KINDS) {
    const cap = `${root}src-tauri/capabilities/${kind}.json`;
    it.skipIf(!existsSync(cap))(`the ${kind} window calls only what its capability grants`, () => {
      const src = readFileSync(`${root}ui/src/views/${viewFile[kind]}.svelte`, "utf8");
      const used = [...new Set([...src.matchAll(/\bb\.(\w+)\(/g)].map((m) => m[1]))];
      expect(used.length).toBeGreaterThan(0);
      const granted: string[] = JSON.parse(readFileSync(cap, "utf8")).permissions.map(
        (p: string | { identifier: string }) => (typeof p === "string" ? p : p.identifier),
      );
      const missing = used.map(permission).filter((p) => !granted.includes(p));
      expect(missing).toEqual([]);
    });
  }
});
