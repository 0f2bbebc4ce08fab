import { expect, test } from "@playwright/test";
import { shot } from "./helpers";

test.use({ viewport: { width: 360, height: 480 } });

test("dashboard: start -> Running with live charts, then stop", async ({ page }) => {
  await page.goto("/?boot=1200&metrics=150#/dashboard");
  await expect(page.getByRole("status", { name: "Builder state: Stopped" })).toBeVisible();
  await expect(page.getByTestId("no-metrics")).toBeVisible();
  await shot(page, "dashboard-stopped");
  await page.getByRole("button", { name: "Start" }).click();
  await expect(page.getByRole("status", { name: "Builder state: Starting…" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Start" })).toBeDisabled();
  await expect(page.getByRole("status", { name: "Builder state: Running" })).toBeVisible();
  await expect(page.getByTestId("cpu")).toHaveText(/\d+ %/);
  await expect(page.locator(".chart canvas")).toHaveCount(2);
  await expect(page.getByTestId("uptime")).toBeVisible();
  await page.getByRole("button", { name: "Stop" }).click();
  await expect(page.getByRole("status", { name: "Builder state: Stopped" })).toBeVisible();
  await expect(page.getByTestId("no-metrics")).toBeVisible();
});

test("dashboard: a failed start shows the error and hint", async ({ page }) => {
  await page.goto("/?scenario=start-fails#/dashboard");
  await page.getByRole("button", { name: "Start" }).click();
  await expect(page.getByRole("alert")).toContainText("qemu-system-aarch64 was not found");
  await expect(page.getByRole("alert")).toContainText("Install QEMU");
});

test("dashboard: boot failure shows reason, hint and console tail", async ({ page }) => {
  await page.goto("/?scenario=boot-fails&boot=300#/dashboard");
  await page.getByRole("button", { name: "Start" }).click();
  await expect(page.getByRole("status", { name: "Builder state: Failed" })).toBeVisible();
  await expect(page.getByLabel("Last console lines")).toContainText("unknown filesystem type");
});
