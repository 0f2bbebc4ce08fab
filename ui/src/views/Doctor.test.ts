import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Doctor from "./Doctor.svelte";
import { memory } from "../test-fakes/backend";
import { clipboard } from "../test-setup";

describe("Doctor", () => {
  it("lists the checks with status, cause and fix", async () => {
    memory();
    const { container } = render(Doctor);
    expect(await screen.findByText("1 problem, 1 warning")).toBeTruthy();
    const trusted = container.querySelector('[data-check="trusted-user"]')!;
    expect(trusted.querySelector('[role="img"]')!.getAttribute("aria-label")).toBe("failed");
    expect(trusted.textContent).toContain("Nix only lets trusted users use remote builders.");
    expect(trusted.textContent).toContain("trusted-users = root alice");
    expect(container.querySelectorAll("li.check").length).toBe(7);
  });

  it("says so when everything passes", async () => {
    memory({ doctorOk: true, initial: "running" });
    render(Doctor);
    expect(await screen.findByText("Everything looks good")).toBeTruthy();
  });

  it("copies a plain-text report like the CLI's", async () => {
    memory();
    render(Doctor);
    await screen.findByText("1 problem, 1 warning");
    await fireEvent.click(screen.getByRole("button", { name: "Copy report" }));
    await waitFor(() =>
      expect(clipboard.text).toContain("[FAIL] Trusted user: alice is not in trusted-users\n"),
    );
    expect(clipboard.text).toContain("[ok  ] Nix is installed: Nix 2.24.10\n");
    expect(clipboard.text).toContain("       cause: Nix only lets trusted users");
    expect(clipboard.text).toContain("       fix:   Run setup again");
  });

  it("shows the error and retries when the doctor cannot run", async () => {
    const b = memory({ doctorFails: true });
    render(Doctor);
    expect((await screen.findByRole("alert")).textContent).toContain("Doctor could not run");
    b.opts.doctorFails = false;
    await fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("1 problem, 1 warning")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("re-runs", async () => {
    const b = memory();
    render(Doctor);
    await screen.findByText("1 problem, 1 warning");
    await fireEvent.click(screen.getByRole("button", { name: "Re-run" }));
    await waitFor(() => expect(b.calls.filter((c) => c === "doctor_run").length).toBe(2));
  });

  it("shows an empty report", async () => {
    const b = memory();
    b.doctorRun = async () => ({ checks: [], generated_at_ms: 0 });
    render(Doctor);
    expect(await screen.findByText("No checks ran.")).toBeTruthy();
  });
});
