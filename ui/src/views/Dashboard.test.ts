import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Dashboard from "./Dashboard.svelte";
import { memory } from "../test-fakes/backend";
import { clipboard } from "../test-setup";

describe("Dashboard", () => {
  it("shows Stopped with the empty metrics state and watches metrics only while mounted", async () => {
    const b = memory();
    const { unmount } = render(Dashboard);
    expect(await screen.findByRole("status", { name: "Builder state: Stopped" })).toBeTruthy();
    expect(screen.getByTestId("no-metrics").textContent).toContain("No samples yet");
    await waitFor(() => expect(b.metricsWatchers).toBe(1));
    unmount();
    await waitFor(() => expect(b.calls).toContain("metrics_unwatch"));
    expect(b.metricsWatchers).toBe(0);
  });

  it("starts: buttons disabled while Starting, then Running with live samples", async () => {
    memory({ bootMs: 600 });
    render(Dashboard);
    const start = await screen.findByRole("button", { name: "Start" });
    await fireEvent.click(start);
    await screen.findByRole("status", { name: "Builder state: Starting…" });
    expect((screen.getByRole("button", { name: "Start" }) as HTMLButtonElement).disabled).toBe(
      true,
    );
    await screen.findByRole("status", { name: "Builder state: Running" });
    expect((screen.getByRole("button", { name: "Stop" }) as HTMLButtonElement).disabled).toBe(
      false,
    );
    await waitFor(() => expect(screen.getByTestId("cpu").textContent).toMatch(/\d+ %/));
    expect(screen.getByTestId("mem").textContent).toMatch(/(MB|GB)/);
    expect(screen.getByText("hvf")).toBeTruthy();
    expect(screen.getByTestId("uptime").textContent).toMatch(/s$/);
  });

  it("shows the ErrorReport when start fails", async () => {
    memory({ startFails: true });
    render(Dashboard);
    await fireEvent.click(await screen.findByRole("button", { name: "Start" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("qemu-system-aarch64 was not found");
    expect(alert.textContent).toContain("Install QEMU");
    expect(screen.getByRole("status", { name: "Builder state: Stopped" })).toBeTruthy();
  });

  it("shows reason, hint and console tail when Failed", async () => {
    memory({ initial: "failed" });
    render(Dashboard);
    await screen.findByRole("status", { name: "Builder state: Failed" });
    expect(screen.getByRole("alert").textContent).toContain("did not answer");
    expect(screen.getByRole("alert").textContent).toContain("Open the console");
    expect(screen.getByLabelText("Last console lines").textContent).toContain(
      "unknown filesystem type '9p'",
    );
    expect(screen.getByRole("button", { name: "Start" })).toBeTruthy();
  });

  it("follows state events from elsewhere (the CLI or the tray)", async () => {
    const b = memory();
    render(Dashboard);
    await screen.findByRole("status", { name: "Builder state: Stopped" });
    b.forceState({ state: "running" });
    await screen.findByRole("status", { name: "Builder state: Running" });
    b.forceState({ state: "stopping" });
    await screen.findByRole("status", { name: "Builder state: Stopping…" });
    expect((screen.getByRole("button", { name: "Stop" }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByRole("button", { name: "Restart" }) as HTMLButtonElement).disabled).toBe(
      true,
    );
  });

  it("shows the builder address and copies the machines line", async () => {
    memory();
    render(Dashboard);
    const line = await screen.findByTestId("machines-line");
    expect(line.textContent).toMatch(/^ssh-ng:\/\/builder@builderbar-builder aarch64-linux/);
    await fireEvent.click(screen.getByRole("button", { name: "Copy machines line" }));
    await waitFor(() => expect(clipboard.text).toBe(line.textContent));
  });

  it("opens the console, doctor and settings windows", async () => {
    const b = memory();
    render(Dashboard);
    await fireEvent.click(await screen.findByRole("button", { name: "Console" }));
    await fireEvent.click(screen.getByRole("button", { name: "Doctor" }));
    await fireEvent.click(screen.getByRole("button", { name: "Settings" }));
    expect(b.openedWindows).toEqual(["console", "doctor", "settings"]);
  });

  it("shows the accelerator's notice (KVM fell back to TCG)", async () => {
    memory({ host: "linux-x86_64", tcgFallback: true, initial: "running" });
    render(Dashboard);
    expect((await screen.findByRole("note")).textContent).toContain("runs under TCG");
    expect(screen.getByText("tcg")).toBeTruthy();
  });

  it("keeps working when the builder's address is not available", async () => {
    const b = memory();
    b.builderInfo = async () => {
      throw { message: "Builder connection details is not implemented yet", hint: "", fields: [] };
    };
    render(Dashboard);
    expect((await screen.findByTestId("info-error")).textContent).toContain("not implemented");
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByRole("status", { name: "Builder state: Stopped" })).toBeTruthy();
  });

  it("stops a running builder", async () => {
    memory({ initial: "running" });
    render(Dashboard);
    await fireEvent.click(await screen.findByRole("button", { name: "Stop" }));
    await screen.findByRole("status", { name: "Builder state: Stopped" });
  });
});
