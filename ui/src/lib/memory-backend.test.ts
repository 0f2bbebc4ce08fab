import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryBackend, optionsFromQuery, validateSettings } from "./memory-backend";
import type { VmStatus } from "./bindings/VmStatus";

const host = { cpus: 8, memoryMib: 16384, busyPorts: [8080], os: "macos" as const };
let b: MemoryBackend;
afterEach(() => b?.dispose());

describe("MemoryBackend", () => {
  it("goes Stopped -> Starting -> Running -> Stopping -> Stopped with events", async () => {
    b = new MemoryBackend({ bootMs: 30 });
    const seen: VmStatus["state"][] = [];
    await b.onVmStatus((s) => seen.push(s.state));
    expect((await b.vmStart()).state).toBe("starting");
    await vi.waitFor(async () => expect((await b.vmStatus()).state).toBe("running"), {
      timeout: 5000,
    });
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

  it("validates like the core", () => {
    const ok = {
      cores: 4,
      memory_mib: 3072,
      disk_gib: 40,
      port: 31022,
      accelerator: "auto" as const,
      on_demand: false,
      idle_minutes: 180,
      image: null,
      stop_timeout_secs: 30,
      nix_conf_dir: null,
      ssh_config_dir: null,
      start_at_login: false,
      notifications: false,
    };
    expect(validateSettings(ok, host)).toEqual([]);
    expect(validateSettings({ ...ok, cores: 9 }, host)[0].message).toBe(
      "is 9, but this machine has 8 CPU cores",
    );
    expect(validateSettings({ ...ok, memory_mib: 20000 }, host)[0].field).toBe("memory_mib");
    expect(validateSettings({ ...ok, on_demand: true, idle_minutes: 2000 }, host)[0].field).toBe(
      "idle_minutes",
    );
    expect(validateSettings({ ...ok, idle_minutes: 0 }, host)).toEqual([]);
    expect(validateSettings({ ...ok, accelerator: "hvf" }, { ...host, os: "linux" })[0].field).toBe(
      "accelerator",
    );
  });

  it("reads scenarios from the query string", () => {
    expect(optionsFromQuery("?scenario=setup-fails-once")).toMatchObject({
      failStep: "authorize",
      failTimes: 1,
    });
    expect(optionsFromQuery("?scenario=running&boot=100&fail=image")).toMatchObject({
      initial: "running",
      bootMs: 100,
      failStep: "image",
    });
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
