import type { DoctorReport } from "./bindings/DoctorReport";
import type { VmStatus } from "./bindings/VmStatus";

/** "1 h 02 min", "3 min 05 s", "12 s". */
export function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m > 0) return `${m} min ${String(sec).padStart(2, "0")} s`;
  return `${sec} s`;
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(0)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${n} B`;
}

export const STATE_LABEL: Record<VmStatus["state"], string> = {
  stopped: "Stopped",
  starting: "Starting…",
  running: "Running",
  stopping: "Stopping…",
  failed: "Failed",
};

/** The doctor report as plain text, exactly like the CLI's `DoctorReport::to_text`. */
export function doctorText(r: DoctorReport): string {
  const marks = { pass: "ok  ", warn: "warn", fail: "FAIL", skip: "skip" } as const;
  let out = "";
  for (const c of r.checks) {
    out += `[${marks[c.status]}] ${c.title}: ${c.detail}\n`;
    if (c.cause) out += `       cause: ${c.cause}\n`;
    if (c.fix) out += `       fix:   ${c.fix}\n`;
  }
  return out;
}

/** Copies text; falls back to a hidden textarea where the Clipboard API is missing. */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // fall through
    }
  }
  const ta = document.createElement("textarea");
  ta.value = text;
  ta.setAttribute("readonly", "");
  ta.style.position = "fixed";
  ta.style.opacity = "0";
  document.body.appendChild(ta);
  ta.select();
  try {
    document.execCommand("copy");
  } finally {
    ta.remove();
  }
}
