import { expect, test } from "@playwright/test";
import { shot } from "./helpers";

test("settings: validation messages appear inline and Save is disabled", async ({ page }) => {
  await page.goto("/#/settings");
  const save = page.getByRole("button", { name: "Save" });
  const cores = page.getByLabel("Cores");
  const port = page.getByLabel("Port");
  await expect(cores).toHaveValue("4");
  await expect(save).toBeDisabled();

  await cores.fill("0");
  const coresErr = page.getByText("Cores must be at least 1");
  await expect(coresErr).toBeVisible();
  await expect(cores).toHaveAttribute("aria-invalid", "true");
  await expect(cores).toHaveAttribute("aria-describedby", "err-cores");
  await expect(save).toBeDisabled();

  await port.fill("22");
  await expect(
    page.getByText("Port is 22; ports below 1024 need root; choose 1024 to 65535"),
  ).toBeVisible();
  await expect(port).toHaveAttribute("aria-describedby", "err-port");
  // The message sits next to its field: just below the input, not elsewhere on the page.
  const pb = (await port.boundingBox())!;
  const eb = (await page.locator("#err-port").boundingBox())!;
  expect(eb.y - (pb.y + pb.height)).toBeLessThan(20);
  expect(Math.abs(eb.x - pb.x)).toBeLessThan(4);
  await expect(save).toBeDisabled();
  await shot(page, "settings-errors");

  await cores.fill("2");
  await port.fill("31100");
  await expect(page.locator(".field-error")).toHaveCount(0);
  await expect(save).toBeEnabled();
  await save.click();
  await expect(page.getByText("Saved.")).toBeVisible();
});

test("settings: saving while the builder runs asks for a restart", async ({ page }) => {
  await page.goto("/?scenario=running#/settings");
  await page.getByLabel("Memory").fill("4096");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("Saved. Restart the builder to apply.")).toBeVisible();
  await shot(page, "settings-restart");
});

test("settings: keyboard only", async ({ page }) => {
  await page.goto("/#/settings");
  await expect(page.getByLabel("Cores")).toHaveValue("4");
  await page.getByLabel("Cores").focus();
  await page.keyboard.press("ArrowUp"); // 5
  await page.keyboard.press("Tab"); // memory
  await expect(page.getByLabel("Memory")).toBeFocused();
  const save = page.getByRole("button", { name: "Save" });
  await expect(save).toBeEnabled();
  await save.focus();
  await page.keyboard.press("Enter");
  await expect(page.getByText("Saved.")).toBeVisible();
});
