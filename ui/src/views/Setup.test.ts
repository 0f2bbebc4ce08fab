import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Setup from "./Setup.svelte";
import { memory } from "../test-fakes/backend";
import { SETUP } from "../lib/bindings/fixtures/setup";

const mac = SETUP["macos-aarch64"];

function stepState(container: HTMLElement, id: string): string | null {
  return container.querySelector(`[data-step="${id}"] [role="img"]`)!.getAttribute("aria-label");
}

describe("Setup wizard", () => {
  it("runs every step: checks, image, keys, the diff, Authorize, restart, test build", async () => {
    const b = memory({ initial: "running" });
    const { container } = render(Setup);
    const begin = await screen.findByRole("button", { name: "Begin setup" });
    expect(container.querySelector('[data-step="checks"]')!.textContent).toContain(
      "Check this Mac",
    );
    await fireEvent.click(begin);
    const diff = await screen.findByTestId("plan-diff");
    // The core's Plan, line by line (an empty line is drawn as a space).
    expect([...diff.querySelectorAll("span")].map((l) => l.textContent)).toEqual(
      mac.plans.plain.diff.split("\n").map((l) => l || " "),
    );
    expect([...diff.querySelectorAll(".add")].map((l) => l.textContent)).toContain(
      "+# >>> builderbar >>> added by Builderbar, removed by `builderbar unsetup`",
    );
    expect(
      screen.getByText(/5 files under \/etc will change, then the Nix daemon restarts/),
    ).toBeTruthy();
    // launchd's restart with its fallback, as the core describes it.
    expect(mac.plans.plain.restart).toMatch(
      /^launchctl kickstart -k system\/org\.nixos\.nix-daemon \(if that fails/,
    );
    expect(screen.getByText(mac.plans.plain.restart!)).toBeTruthy();
    for (const id of ["checks", "image", "keys"]) expect(stepState(container, id)).toBe("done");
    expect(stepState(container, "authorize")).toBe("pending");
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("3");

    await fireEvent.click(screen.getByRole("button", { name: "Authorize" }));
    expect(await screen.findByText("Test build succeeded")).toBeTruthy();
    expect(screen.getByText("Your Linux builder is ready.")).toBeTruthy();
    for (const id of ["authorize", "restart", "test-build"])
      expect(stepState(container, id)).toBe("done");
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("6");
    expect(b.calls.filter((c) => c === "setup_apply").length).toBe(1);
  });

  it("names the machine as the host does", async () => {
    memory({ host: "linux-x86_64" });
    const { container } = render(Setup);
    await screen.findByRole("button", { name: "Begin setup" });
    const checks = container.querySelector('[data-step="checks"]')!.textContent!;
    expect(checks).toContain(SETUP["linux-x86_64"].titles.checks);
    expect(container.textContent).not.toContain("Mac");
  });

  it("shows a step's progress when the core sends it", async () => {
    const b = memory();
    let send: ((s: (typeof mac.steps.ready)[number]) => void) | null = null;
    b.onSetupStep = async (cb) => {
      send = cb;
      return () => {};
    };
    render(Setup);
    await screen.findByRole("button", { name: "Begin setup" });
    const image = mac.steps.ready.find((s) => s.id === "image")!;
    send!({ ...image, state: "running", progress: 0.25 });
    const bar = (await screen.findByLabelText(`${image.title} progress`)) as HTMLProgressElement;
    expect(bar.value).toBe(0.25);
  });

  it("shows a cancelled authorization with the core's message and hint; Retry succeeds", async () => {
    const b = memory({ failStep: "authorize", failTimes: 1, initial: "running" });
    const { container } = render(Setup);
    await fireEvent.click(await screen.findByRole("button", { name: "Begin setup" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Authorize" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain(
      "the administrator prompt (osascript) was cancelled; nothing was changed",
    );
    expect(alert.textContent).toContain(mac.failures.authorize!.report.hint);
    expect(alert.closest("[data-step]")!.getAttribute("data-step")).toBe("authorize");
    // The core's steps afterwards: nothing was wired, so authorize is pending again.
    await waitFor(() => expect(stepState(container, "authorize")).toBe("pending"));
    await fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("Test build succeeded")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
    expect(b.calls.filter((c) => c === "setup_apply").length).toBe(2);
  });

  it("shows a missing image on its step and retries the preparation", async () => {
    memory({ failStep: "image", failTimes: 1 });
    const { container } = render(Setup);
    expect(await screen.findByText(mac.failures.image!.report.message)).toBeTruthy();
    expect(stepState(container, "image")).toBe("failed");
    await fireEvent.click(await screen.findByRole("button", { name: "Begin setup" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain(mac.failures.image!.report.hint);
    expect(alert.closest("[data-step]")!.getAttribute("data-step")).toBe("image");
    await fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByRole("button", { name: "Authorize" })).toBeTruthy();
  });

  it("shows a test build that cannot run while the builder is stopped", async () => {
    const b = memory();
    render(Setup);
    await fireEvent.click(await screen.findByRole("button", { name: "Begin setup" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Authorize" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("the builder is not running");
    expect(alert.closest("[data-step]")!.getAttribute("data-step")).toBe("test-build");
    b.forceState({ state: "running" });
    await fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("Test build succeeded")).toBeTruthy();
  });

  it("shows the nix-darwin snippet instead of a diff", async () => {
    memory({ nixDarwin: true, initial: "running" });
    render(Setup);
    await fireEvent.click(await screen.findByRole("button", { name: "Begin setup" }));
    const snippet = await screen.findByTestId("darwin-snippet");
    expect(snippet.textContent).toBe(mac.plans.nixDarwin.darwin_snippet);
    expect(screen.getByText("Add this to your nix-darwin configuration")).toBeTruthy();
    expect(screen.queryByTestId("plan-diff")).toBeNull();
    expect(screen.queryByRole("button", { name: "Authorize" })).toBeNull();
    expect(screen.getByRole("button", { name: "Copy nix-darwin snippet" })).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(await screen.findByText("Test build succeeded")).toBeTruthy();
  });

  it("says when setup was already done", async () => {
    memory({ setupDone: true, initial: "running" });
    render(Setup);
    expect(await screen.findByText("Builderbar is set up.")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Run a test build" }));
    await waitFor(() => expect(screen.getByText("Test build succeeded")).toBeTruthy());
  });
});
