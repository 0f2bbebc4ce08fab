import { expect, test } from "@playwright/test";
import { shot } from "./helpers";

test("setup wizard: happy path from checks to a test build", async ({ page }) => {
  // The test build needs the builder running, as in the app.
  await page.goto("/?step=300&state=running#/setup");
  await expect(page.locator('[data-step="checks"]')).toContainText("Check this Mac");
  await page.getByRole("button", { name: "Begin setup" }).click();
  const diff = page.getByTestId("plan-diff");
  await expect(diff).toBeVisible();
  await expect(diff.locator(".add").filter({ hasText: ">>> builderbar >>>" }).first()).toHaveText(
    "+# >>> builderbar >>> added by Builderbar, removed by `builderbar unsetup`",
  );
  await expect(page.getByRole("progressbar", { name: "Setup progress" })).toHaveAttribute(
    "aria-valuenow",
    "3",
  );
  await page.getByRole("button", { name: "Authorize" }).click();
  await expect(page.getByRole("status", { name: "Test build result" })).toContainText(
    "Test build succeeded",
  );
  await expect(page.getByText("Your Linux builder is ready.")).toBeVisible();
  await expect(page.getByRole("progressbar", { name: "Setup progress" })).toHaveAttribute(
    "aria-valuenow",
    "6",
  );
  await expect(page.locator('[data-step] [aria-label="done"]')).toHaveCount(6);
  await shot(page, "setup-done");
});

test("setup wizard: on Linux the steps do not talk about a Mac", async ({ page }) => {
  await page.goto("/?host=linux-x86_64&step=20#/setup");
  await expect(page.locator('[data-step="checks"]')).toContainText("Check this computer");
  await page.getByRole("button", { name: "Begin setup" }).click();
  await expect(page.getByText("systemctl restart nix-daemon", { exact: true })).toBeVisible();
  await expect(page.locator("main")).not.toContainText("Mac");
});

test("setup wizard: a failing step shows message and hint, Retry succeeds", async ({ page }) => {
  await page.goto("/?scenario=setup-fails-once&state=running&step=40#/setup");
  await page.getByRole("button", { name: "Begin setup" }).click();
  await page.getByRole("button", { name: "Authorize" }).click();
  const step = page.locator('[data-step="authorize"]');
  await expect(step.getByRole("alert")).toContainText(
    "the administrator prompt (osascript) was cancelled; nothing was changed",
  );
  await expect(step.getByRole("alert")).toContainText("approve the prompt");
  await shot(page, "setup-failed");
  // Keyboard: Retry is reachable and works with Enter.
  await step.getByRole("button", { name: "Retry" }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByText("Test build succeeded")).toBeVisible();
  await expect(page.getByRole("alert")).toHaveCount(0);
});

test("setup wizard: nix-darwin shows the snippet instead of a diff", async ({ page }) => {
  await page.goto("/?scenario=nix-darwin&step=20#/setup");
  await page.getByRole("button", { name: "Begin setup" }).click();
  await expect(page.getByTestId("darwin-snippet")).toContainText("nix.buildMachines");
  await expect(page.getByTestId("plan-diff")).toHaveCount(0);
  await shot(page, "setup-nix-darwin");
});
