// Benchmark (not part of `npm run test:ui` unless BENCH=1): 10 MB of console output in the
// browser console view vs the same bytes written to a file; main-thread lag while rendering.
// Result: test-output/bench-console.json.
import { expect, test } from "@playwright/test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";

test("bench: 10 MB console burst", async ({ page }) => {
  test.skip(!process.env.BENCH, "set BENCH=1 to run");
  test.setTimeout(300_000);
  const total = 10 * 1024 * 1024;
  await page.goto("/?scenario=running#/console");
  await expect(page.locator(".xterm-rows")).toContainText("Welcome to NixOS");
  const r = await page.evaluate(async (n) => {
    const w = window as unknown as {
      __builderbar: {
        backend: { burst(n: number): number };
        consoleStats: { written: number; writes: number };
      };
    };
    const lags: number[] = [];
    let last = performance.now();
    const probe = setInterval(() => {
      const now = performance.now();
      lags.push(now - last - 10);
      last = now;
    }, 10);
    const start = w.__builderbar.consoleStats.written;
    const t0 = performance.now();
    // 64 KiB batches, one per task, as the Rust side's Channel delivers them.
    let sent = 0;
    while (sent < n) {
      sent += w.__builderbar.backend.burst(Math.min(64 * 1024, n - sent));
      await new Promise((res) => setTimeout(res, 0));
    }
    while (w.__builderbar.consoleStats.written - start < n)
      await new Promise((res) => setTimeout(res, 5));
    const ms = performance.now() - t0;
    clearInterval(probe);
    lags.sort((a, b) => a - b);
    return {
      ms,
      writes: w.__builderbar.consoleStats.writes,
      lagP50: lags[Math.floor(lags.length / 2)],
      lagP99: lags[Math.floor(lags.length * 0.99)],
      lagMax: lags[lags.length - 1],
    };
  }, total);
  const buf = Buffer.alloc(total, "x");
  mkdirSync("test-output", { recursive: true });
  const f = "test-output/bench-console.tmp";
  const t0 = performance.now();
  writeFileSync(f, buf);
  const fileMs = performance.now() - t0;
  rmSync(f);
  const result = { bytes: total, ...r, fileMs, ratio: r.ms / fileMs };
  writeFileSync("test-output/bench-console.json", JSON.stringify(result, null, 2));
  console.log(JSON.stringify(result));
});
