import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Setup from "./Setup.svelte";
import { memory } from "../test-fakes/backend";

function stepState(container: HTMLElement, id: string): string | null {
  return container.querySelector(`[data-step="${id}"] [role="img"]`)!.getAttribute("aria-label");
}

describe("Setup wizard", () => {
  it("runs every step: checks, image, keys, the diff, Authorize, restart, test build", async () => {
    const b = memory();
    const { container } = render(Setup);
    await fireEvent.click(await screen.findByRole("button", { name: "Begin setup" }));
    const diff = await screen.findByTestId("plan-diff");
    expect(diff.querySelector(".add")!.textContent).toBe("+trusted-users = root alice");
    expect(diff.querySelector(".del")!.textContent).toBe("-trusted-users = root");
    expect(
      screen.getByText(/3 files under \/etc will change, then the Nix daemon restarts/),
    ).toBeTruthy();
    expect(screen.getByText("launchctl kickstart -k system/org.nixos.nix-daemon")).toBeTruthy();
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

  it("shows the image step's progress while it runs", async () => {
    memory({ stepMs: 300 });
    render(Setup);
    await fireEvent.click(await screen.findByRole("button", { name: "Begin setup" }));
    const bar = (await screen.findByLabelText(
      "Get the builder image progress",
    )) as HTMLProgressElement;
    expect(bar.value).toBeGreaterThan(0);
    expect(await screen.findByText(/Downloading nixos-24.11-aarch64/)).toBeTruthy();
  });

  it("shows a failed step's message and hint, and Retry succeeds", async () => {
    const b = memory({ failStep: "authorize", failTimes: 1 });
    const { container } = render(Setup);
    await fireEvent.click(await screen.findByRole("button", { name: "Begin setup" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Authorize" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Authorization was cancelled");
    expect(alert.textContent).toContain("Nothing was changed");
    expect(alert.closest("[data-step]")!.getAttribute("data-step")).toBe("authorize");
    expect(stepState(container, "authorize")).toBe("failed");
    await fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("Test build succeeded")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
    expect(b.calls.filter((c) => c === "setup_apply").length).toBe(2);
  });

  it("retries a failed preparation step (image download)", async () => {
    memory({ failStep: "image", failTimes: 1 });
    const { container } = render(Setup);
    await fireEvent.click(await screen.findByRole("button", { name: "Begin setup" }));
    expect((await screen.findByRole("alert")).textContent).toContain("connection reset");
    expect(stepState(container, "image")).toBe("failed");
    await fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByRole("button", { name: "Authorize" })).toBeTruthy();
  });

  it("shows a failed test build with its error and retries it", async () => {
    memory({ failStep: "test-build", failTimes: 1 });
    render(Setup);
    await fireEvent.click(await screen.findByRole("button", { name: "Begin setup" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Authorize" }));
    expect((await screen.findByRole("alert")).textContent).toContain("could not reach the builder");
    await fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("Test build succeeded")).toBeTruthy();
  });

  it("shows the nix-darwin snippet instead of a diff", async () => {
    memory({ nixDarwin: true });
    render(Setup);
    await fireEvent.click(await screen.findByRole("button", { name: "Begin setup" }));
    const snippet = await screen.findByTestId("darwin-snippet");
    expect(snippet.textContent).toContain("nix.buildMachines");
    expect(screen.queryByTestId("plan-diff")).toBeNull();
    expect(screen.queryByRole("button", { name: "Authorize" })).toBeNull();
    expect(screen.getByRole("button", { name: "Copy nix-darwin snippet" })).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(await screen.findByText("Test build succeeded")).toBeTruthy();
  });

  it("says when setup was already done", async () => {
    memory({ setupDone: true });
    render(Setup);
    expect(await screen.findByText("Builderbar is set up.")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Run a test build" }));
    await waitFor(() => expect(screen.getByText("Test build succeeded")).toBeTruthy());
  });
});
