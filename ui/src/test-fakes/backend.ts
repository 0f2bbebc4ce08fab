import { afterEach } from "vitest";
import { setBackend } from "../lib/backend";
import { MemoryBackend, type MemoryOptions } from "../lib/memory-backend";

const made: MemoryBackend[] = [];
afterEach(() => {
  while (made.length) made.pop()!.dispose();
});

/** A fast MemoryBackend installed as the app's backend; disposed after the test. */
export function memory(opts: Partial<MemoryOptions> = {}): MemoryBackend {
  const b = new MemoryBackend({ bootMs: 60, stepMs: 10, metricsMs: 15, ...opts });
  made.push(b);
  setBackend(b);
  return b;
}
