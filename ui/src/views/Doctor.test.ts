import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Doctor from "./Doctor.svelte";
import { memory } from "../test-fakes/backend";
import { clipboard } from "../test-setup";
import { DOCTOR_FAILS, DOCTOR_REPORTS } from "../lib/bindings/fixtures/doctor";

// The core's reports on a Mac (crates/core/tests/ui_fixtures.rs): before setup, three checks
// fail (nothing wired, no keys, no ssh config) and the three that need the builder are skipped.
const notSetUp = DOCTOR_REPORTS["macos-aarch64"].notSetUp.checks;
const check = (id: string) => notSetUp.find((c) => c.id === id)!;

describe("Doctor", () => {
  it("lists the core's checks with status, cause and fix", async () => {
    memory();
    const { container } = render(Doctor);
    expect(await screen.findByText("3 problems")).toBeTruthy();
    const keys = container.querySelector('[data-check="key-files"]')!;
    expect(keys.querySelector('[role="img"]')!.getAttribute("aria-label")).toBe("failed");
    expect(keys.textContent).toContain(check("key-files").cause);
    expect(keys.textContent).toContain(check("key-files").fix);
    expect(keys.textContent).toContain("client_ed25519 is missing");
    const reach = container.querySelector('[data-check="builder-reachable"]')!;
    expect(reach.querySelector('[role="img"]')!.getAttribute("aria-label")).toBe("skipped");
    expect(container.querySelectorAll("li.check").length).toBe(notSetUp.length);
  });

  it("says so when everything passes", async () => {
    memory({ setupDone: true, initial: "running" });
    render(Doctor);
    expect(await screen.findByText("Everything looks good")).toBeTruthy();
  });

  it("copies a plain-text report like the CLI's", async () => {
    memory();
    render(Doctor);
    await screen.findByText("3 problems");
    await fireEvent.click(screen.getByRole("button", { name: "Copy report" }));
    const ssh = check("ssh-config");
    await waitFor(() => expect(clipboard.text).toContain(`[FAIL] ${ssh.title}: ${ssh.detail}\n`));
    expect(clipboard.text).toContain(`[ok  ] Nix installed: nix (Nix) 2.28.3\n`);
    expect(clipboard.text).toContain(`       cause: ${ssh.cause}\n`);
    expect(clipboard.text).toContain(`       fix:   ${ssh.fix}\n`);
  });

  it("shows the error and retries when the doctor cannot run", async () => {
    const b = memory({ doctorFails: true });
    render(Doctor);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain(DOCTOR_FAILS["macos-aarch64"].message);
    expect(alert.textContent).toContain("Fix or delete");
    b.opts.doctorFails = false;
    await fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("3 problems")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("re-runs", async () => {
    const b = memory();
    render(Doctor);
    await screen.findByText("3 problems");
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
