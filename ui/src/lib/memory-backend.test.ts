import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryBackend, optionsFromQuery } from "./memory-backend";
import type { VmStatus } from "./bindings/VmStatus";
import { DOCTOR_CHECK_IDS } from "./bindings/fixtures/DoctorCheckId";
import { DOCTOR_FAILS, DOCTOR_REPORTS } from "./bindings/fixtures/doctor";
import { SETTINGS } from "./bindings/fixtures/settings";
import { SETUP } from "./bindings/fixtures/setup";

let b: MemoryBackend;
afterEach(() => b?.dispose());
const fast = { bootMs: 30, stepMs: 5 };

describe("MemoryBackend", () => {
  it("goes Stopped -> Starting -> Running -> Stopping -> Stopped with events", async () => {
    b = new MemoryBackend(fast);
    const seen: VmStatus["state"][] = [];
    await b.onVmStatus((s) => seen.push(s.state));
    expect((await b.vmStart()).state).toBe("starting");
    await vi.waitFor(async () => expect((await b.vmStatus()).state).toBe("running"), {
      timeout: 5000,
    });
    expect((await b.vmStatus()).image).toBe(SETUP["macos-aarch64"].image);
    expect((await b.vmStop()).state).toBe("stopped");
    expect(seen).toEqual(["starting", "running", "stopping", "stopped"]);
  });

  it("echoes typed input and answers a command while running", async () => {
    b = new MemoryBackend({ initial: "running" });
    const got: string[] = [];
    await b.consoleAttach((x) => got.push(new TextDecoder().decode(x)));
    expect(got[0]).toContain("Welcome to NixOS");
    await b.consoleInput("hostname\r");
    expect(got.slice(1).join("")).toContain("hostname\r\nbuilder\r\n");
  });

  it("sends exactly the requested burst size", async () => {
    b = new MemoryBackend({ initial: "running" });
    let n = 0;
    await b.consoleAttach((x) => (n += x.length));
    const first = n;
    expect(b.burst(1 << 20)).toBe(1 << 20);
    expect(n - first).toBe(1 << 20);
  });

  it("starts from the core's default settings and answers with its validation", async () => {
    b = new MemoryBackend();
    const base = SETTINGS["macos-aarch64"].base;
    expect(await b.settingsGet()).toEqual(base);
    expect(await b.settingsValidate({ ...base, cores: 9 })).toEqual([
      { field: "cores", message: "is 9, but this machine has 8 CPU cores" },
    ]);
    await expect(b.settingsSave({ ...base, port: 22 })).rejects.toMatchObject({
      fields: [{ field: "port" }],
    });
  });

  it("shows the core's doctor reports: before setup, set up, running, and its rejection", async () => {
    const reports = DOCTOR_REPORTS["macos-aarch64"];
    const run = async (o: ConstructorParameters<typeof MemoryBackend>[0]) => {
      b?.dispose();
      b = new MemoryBackend({ ...fast, ...o });
      const r = await b.doctorRun();
      expect(r.checks.map((c) => c.id)).toEqual(DOCTOR_CHECK_IDS);
      return r.checks;
    };
    expect(await run({})).toEqual(reports.notSetUp.checks);
    expect(await run({ setupDone: true })).toEqual(reports.setUpStopped.checks);
    expect(await run({ setupDone: true, initial: "running" })).toEqual(reports.setUpRunning.checks);
    expect(await run({ failStep: "checks" })).toEqual(reports.portBusy.checks);
    b = new MemoryBackend({ ...fast, doctorFails: true });
    await expect(b.doctorRun()).rejects.toEqual(DOCTOR_FAILS["macos-aarch64"]);
    b = new MemoryBackend({ ...fast, host: "linux-x86_64" });
    await expect(b.doctorRun()).rejects.toMatchObject({ message: /no doctor report/ });
  });

  it("runs setup as the core does, with its step titles for the host", async () => {
    for (const host of ["macos-aarch64", "linux-x86_64"] as const) {
      b?.dispose();
      b = new MemoryBackend({ ...fast, host, initial: "running" });
      const steps = await b.setupSteps();
      expect(steps).toEqual(SETUP[host].steps.ready);
      for (const s of steps) expect(s.title).toBe(SETUP[host].titles[s.id]);
      expect(await b.setupPlan()).toEqual(SETUP[host].plans.plain);
      const events: string[] = [];
      await b.onSetupStep((s) => events.push(`${s.id}:${s.state}`));
      expect(await b.setupApply()).toEqual(SETUP[host].steps.applied);
      expect(events[0]).toBe("authorize:running");
      expect(await b.setupSteps()).toEqual(SETUP[host].steps.after);
      expect((await b.builderInfo()).wired).toBe(true);
      expect((await b.setupTestBuild()).ok).toBe(true);
    }
    expect(SETUP["macos-aarch64"].titles.checks).toBe("Check this Mac");
    expect(JSON.stringify(SETUP["linux-x86_64"].titles)).not.toContain("Mac");
  });

  it("fails a step with the core's error, then succeeds", async () => {
    b = new MemoryBackend({ ...fast, failStep: "image" });
    const failure = SETUP["macos-aarch64"].failures.image!;
    // A Mac's image step fails in the fetch: the step shows the provider's error.
    const step = (await b.setupSteps()).find((s) => s.id === "image")!;
    expect(step.state).toBe("failed");
    expect(step.error).toEqual(failure.report);
    await expect(b.setupPlan()).rejects.toEqual(failure.report);
    expect(await b.setupPlan()).toEqual(SETUP["macos-aarch64"].plans.plain);
    // The test build needs the builder running, as in the app.
    await expect(b.setupTestBuild()).rejects.toEqual(
      SETUP["macos-aarch64"].failures["test-build"]!.report,
    );
  });

  it("reads scenarios from the query string", () => {
    expect(optionsFromQuery("?scenario=setup-fails-once")).toMatchObject({
      failStep: "authorize",
      failTimes: 1,
    });
    expect(optionsFromQuery("?scenario=running&boot=100&fail=image&host=linux-x86_64")).toEqual({
      initial: "running",
      bootMs: 100,
      failStep: "image",
      host: "linux-x86_64",
    });
    expect(optionsFromQuery("?host=windows")).toEqual({});
  });

  it("samples metrics only while watched and running", async () => {
    b = new MemoryBackend({ initial: "running", metricsMs: 10 });
    let n = 0;
    await b.metricsWatch(() => n++);
    await vi.waitFor(() => expect(n).toBeGreaterThan(2), { timeout: 5000 });
    await b.metricsUnwatch();
    const seen = n;
    await new Promise((r) => setTimeout(r, 30));
    expect(n).toBe(seen);
  });
});
