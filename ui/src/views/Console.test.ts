import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Console from "./Console.svelte";
import { memory } from "../test-fakes/backend";
import { Terminal } from "../test-fakes/xterm";
import { clipboard } from "../test-setup";

const term = () => Terminal.last!;

describe("Console", () => {
  it("shows the empty state when there is no output yet", async () => {
    const b = memory();
    render(Console);
    await waitFor(() => expect(b.calls).toContain("console_attach"));
    expect(screen.getByTestId("console-empty").textContent).toContain("No output yet");
    expect(term().text()).toBe("");
  });

  it("writes the history first, then live bytes, and hides the empty state", async () => {
    const b = memory({ initial: "running" });
    render(Console);
    await waitFor(() => expect(term().text()).toContain("Welcome to NixOS"));
    expect(screen.queryByTestId("console-empty")).toBeNull();
    b.writeConsole("live line\r\n");
    await waitFor(() => expect(term().text()).toContain("live line"));
  });

  it("sends what is typed to the serial console and shows the echo", async () => {
    const b = memory({ initial: "running" });
    render(Console);
    await waitFor(() => expect(b.calls).toContain("console_attach"));
    term().type("echo hi\r");
    await waitFor(() => expect(b.inputs.map((i) => i.data).join("")).toBe("echo hi\r"));
    await waitFor(() => expect(term().text()).toMatch(/echo hi\r\nhi\r\n/));
  });

  it("coalesces a 1 MB burst into few flushes of 32 KiB pieces, losing no byte", async () => {
    const b = memory({ initial: "running" });
    render(Console);
    await waitFor(() => expect(term().writes.length).toBe(1)); // the history
    const before = term().writes.length;
    const sent = b.burst(1024 * 1024, 4096); // 256 small chunks
    await waitFor(() =>
      expect(
        term()
          .writes.slice(before)
          .reduce((n, w) => n + w.length, 0),
      ).toBe(sent),
    );
    const pieces = term().writes.slice(before);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThanOrEqual(32 * 1024);
    expect(pieces.length).toBeLessThanOrEqual(40); // 256 chunks of 4 KiB became 32 pieces
  });

  it("copies the selection, clears the view and saves the log", async () => {
    const b = memory({ initial: "running" });
    render(Console);
    await waitFor(() => expect(b.calls).toContain("console_attach"));
    await fireEvent.click(screen.getByRole("button", { name: "Copy selection" }));
    expect(screen.getByText("Nothing selected")).toBeTruthy();
    term().selection = "[root@builder:~]#";
    await fireEvent.click(screen.getByRole("button", { name: "Copy selection" }));
    await waitFor(() => expect(clipboard.text).toBe("[root@builder:~]#"));
    await fireEvent.click(screen.getByRole("button", { name: "Clear view" }));
    expect(term().cleared).toBe(1);
    await fireEvent.click(screen.getByRole("button", { name: "Save log" }));
    expect(await screen.findByText(/Saved to .*builderbar-console\.log/)).toBeTruthy();
  });

  it("says quietly that nothing was saved when the dialog is cancelled", async () => {
    const b = memory({ initial: "running" });
    b.consoleSave = async () => {
      throw { message: "Nothing saved: the save dialog was cancelled.", hint: "", fields: [] };
    };
    render(Console);
    await fireEvent.click(screen.getByRole("button", { name: "Save log" }));
    expect(await screen.findByText("Nothing saved: the save dialog was cancelled.")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows an error when the console cannot attach", async () => {
    const b = memory();
    b.consoleAttach = async () => {
      throw {
        message: "The builder's serial socket is gone",
        hint: "Restart the builder.",
        fields: [],
      };
    };
    render(Console);
    expect((await screen.findByRole("alert")).textContent).toContain("serial socket is gone");
  });

  it("detaches and disposes the terminal when closed", async () => {
    const b = memory({ initial: "running" });
    const { unmount } = render(Console);
    await waitFor(() => expect(b.calls).toContain("console_attach"));
    const t = term();
    unmount();
    await waitFor(() => expect(b.calls).toContain("console_detach"));
    expect(t.disposed).toBe(true);
  });
});
