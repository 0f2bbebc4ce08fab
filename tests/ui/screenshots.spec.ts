// Every view in light and dark, for docs/screenshots and for review. The in-memory backend
// shows what the core wrote for a Mac (ui/src/lib/bindings/fixtures/); see docs/screenshots.
import { expect, test } from "@playwright/test";
import { shot } from "./helpers";

for (const scheme of ["light", "dark"] as const) {
  test.describe(`${scheme} appearance`, () => {
    test.use({ colorScheme: scheme });

    test(`dashboard running (${scheme})`, async ({ page }) => {
      await page.setViewportSize({ width: 360, height: 480 });
      // Set up and running: the builder is wired into Nix, as after the first-run setup.
      await page.goto("/?scenario=setup-done&state=running&metrics=100#/dashboard");
      await expect(page.getByRole("status", { name: "Builder state: Running" })).toBeVisible();
      await expect(page.getByTestId("cpu")).toBeVisible();
      await page.waitForTimeout(3000);
      await shot(page, `dashboard-${scheme}`);
    });

    test(`dashboard failed (${scheme})`, async ({ page }) => {
      await page.setViewportSize({ width: 360, height: 480 });
      await page.goto("/?scenario=failed#/dashboard");
      await expect(page.getByRole("status", { name: "Builder state: Failed" })).toBeVisible();
      await shot(page, `dashboard-failed-${scheme}`);
    });

    test(`console (${scheme})`, async ({ page }) => {
      await page.goto("/?scenario=running#/console");
      await expect(page.locator(".xterm-rows")).toContainText("Welcome to NixOS");
      await page.locator(".xterm-helper-textarea").focus();
      await page.keyboard.type("uname -a\n");
      await expect(page.locator(".xterm-rows")).toContainText("Linux builder 6.12.30");
      await shot(page, `console-${scheme}`);
    });

    test(`settings with errors (${scheme})`, async ({ page }) => {
      await page.goto("/#/settings");
      await page.getByLabel("Cores").fill("0");
      await page.getByLabel("Port").fill("22");
      await expect(page.getByText("Port is 22; ports below 1024")).toBeVisible();
      await shot(page, `settings-${scheme}`);
    });

    test(`doctor (${scheme})`, async ({ page }) => {
      await page.goto("/#/doctor");
      await expect(page.getByText("3 problems")).toBeVisible();
      await shot(page, `doctor-${scheme}`);
    });

    test(`setup review (${scheme})`, async ({ page }) => {
      await page.goto("/?step=20#/setup");
      await page.getByRole("button", { name: "Begin setup" }).click();
      await expect(page.getByRole("button", { name: "Authorize" })).toBeVisible();
      await shot(page, `setup-review-${scheme}`);
    });
  });
}
