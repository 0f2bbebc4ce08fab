import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import SettingsView from "./Settings.svelte";
import { memory } from "../test-fakes/backend";

const input = (label: string) => screen.getByLabelText(label) as HTMLInputElement;
const save = () => screen.getByRole("button", { name: "Save" }) as HTMLButtonElement;

async function set(label: string, value: string) {
  await fireEvent.input(input(label), { target: { value } });
}

describe("Settings", () => {
  it("loads the settings; Save is disabled until something changes", async () => {
    memory();
    render(SettingsView);
    await waitFor(() => expect(input("Cores").value).toBe("4"));
    expect(input("Memory").value).toBe("3072");
    expect(input("Port").value).toBe("31022");
    expect((screen.getByLabelText("Accelerator") as HTMLSelectElement).value).toBe("auto");
    expect(save().disabled).toBe(true);
  });

  it("shows each core message inline next to its field and disables Save", async () => {
    const b = memory();
    render(SettingsView);
    await waitFor(() => expect(input("Cores").value).toBe("4"));
    await set("Cores", "0");
    await set("Port", "22");
    const cores = await screen.findByText("Cores must be at least 1");
    const port = await screen.findByText(
      "Port is 22; ports below 1024 need root; choose 1024 to 65535",
    );
    expect(input("Cores").getAttribute("aria-invalid")).toBe("true");
    expect(input("Cores").getAttribute("aria-describedby")).toBe(cores.id);
    expect(input("Port").getAttribute("aria-describedby")).toBe(port.id);
    expect(save().disabled).toBe(true);
    expect(b.calls).toContain("settings_validate");

    await set("Cores", "2");
    await set("Port", "8080");
    expect(await screen.findByText(/127\.0\.0\.1:8080 is already in use/)).toBeTruthy();
    await waitFor(() => expect(screen.queryByText("Cores must be at least 1")).toBeNull());
    await set("Port", "31023");
    await waitFor(() => expect(save().disabled).toBe(false));
    expect(input("Cores").getAttribute("aria-invalid")).toBe("false");
  });

  it("validates memory, disk and idle minutes", async () => {
    memory();
    render(SettingsView);
    await waitFor(() => expect(input("Cores").value).toBe("4"));
    await set("Memory", "128");
    await set("Disk", "0");
    await fireEvent.click(screen.getByLabelText("Start on demand when a build connects"));
    await set("Stop after", "0");
    expect(
      await screen.findByText(/Memory is 128 MiB; the builder needs at least 256 MiB/),
    ).toBeTruthy();
    expect(screen.getByText("Disk is 0 GiB; choose 1 to 4096")).toBeTruthy();
    expect(screen.getByText("Idle minutes is 0; choose 1 to 1440 minutes")).toBeTruthy();
    expect(input("Stop after").getAttribute("aria-describedby")).toBe("err-idle_minutes");
    expect(save().disabled).toBe(true);
  });

  it("offers the host's accelerators, and shows the core's message for a saved one it lacks", async () => {
    const options = () =>
      [...(screen.getByLabelText("Accelerator") as HTMLSelectElement).options].map((o) => o.value);
    memory({ host: "linux-x86_64" });
    const linux = render(SettingsView);
    await waitFor(() => expect(options()).toEqual(["auto", "kvm", "tcg"]));
    linux.unmount();

    const b = memory();
    const get = b.settingsGet.bind(b);
    b.settingsGet = async () => ({ ...(await get()), accelerator: "kvm" });
    render(SettingsView);
    await waitFor(() => expect(options()).toEqual(["auto", "hvf", "tcg", "kvm"]));
    expect(await screen.findByText(/Accelerator kvm exists only on Linux/)).toBeTruthy();
    await fireEvent.change(screen.getByLabelText("Accelerator"), { target: { value: "hvf" } });
    await waitFor(() => expect(screen.queryByText(/exists only on Linux/)).toBeNull());
  });

  it("saves; says nothing about a restart while the builder is stopped", async () => {
    const b = memory();
    render(SettingsView);
    await waitFor(() => expect(input("Cores").value).toBe("4"));
    await set("Cores", "6");
    await waitFor(() => expect(save().disabled).toBe(false));
    await fireEvent.click(save());
    expect(await screen.findByText("Saved.")).toBeTruthy();
    expect((await b.settingsGet()).cores).toBe(6);
    expect(save().disabled).toBe(true);
  });

  it("asks for a restart when a running builder's settings change", async () => {
    memory({ initial: "running" });
    render(SettingsView);
    await waitFor(() => expect(input("Cores").value).toBe("4"));
    await set("Memory", "4096");
    await waitFor(() => expect(save().disabled).toBe(false));
    await fireEvent.click(save());
    expect(await screen.findByText("Saved. Restart the builder to apply.")).toBeTruthy();
  });

  it("shows the fields of a rejected save", async () => {
    const b = memory();
    b.settingsSave = async () => {
      throw {
        message: "The settings were not saved",
        hint: "Correct the fields marked in red.",
        fields: [{ field: "port", message: "is 31023; 127.0.0.1:31023 was taken meanwhile" }],
      };
    };
    render(SettingsView);
    await waitFor(() => expect(input("Cores").value).toBe("4"));
    await set("Port", "31023");
    await waitFor(() => expect(save().disabled).toBe(false));
    await fireEvent.click(save());
    expect(await screen.findByText(/Port is 31023; 127.0.0.1:31023 was taken/)).toBeTruthy();
    expect(screen.getByText("The settings were not saved")).toBeTruthy();
  });

  it("shows an error when the settings cannot be read", async () => {
    const b = memory();
    b.settingsGet = async () => {
      throw { message: "cannot read settings file", hint: "Fix or delete it.", fields: [] };
    };
    render(SettingsView);
    expect((await screen.findByRole("alert")).textContent).toContain("cannot read settings file");
  });
});
