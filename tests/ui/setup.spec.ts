import { expect, test } from "@playwright/test";
import { shot } from "./helpers";

test("setup wizard: happy path from checks to a test build", async ({ page }) => {
  await page.goto("/?step=300#/setup");
  await expect(page.locator('[data-step="checks"]')).toContainText("Check this Mac");
  await page.getByRole("button", { name: "Begin setup" }).click();
  // The image step reports progress while it runs.
  await expect(page.getByLabel("Get the builder image progress")).toBeVisible();
  await shot(page, "setup-progress");
  const diff = page.getByTestId("plan-diff");
  await expect(diff).toBeVisible();
  await expect(diff.locator(".add").first()).toHaveText("+trusted-users = root alice");
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

test("setup wizard: a failing step shows message and hint, Retry succeeds", async ({ page }) => {
  await page.goto("/?scenario=setup-fails-once&step=40#/setup");
  await page.getByRole("button", { name: "Begin setup" }).click();
  await page.getByRole("button", { name: "Authorize" }).click();
  const step = page.locator('[data-step="authorize"]');
  await expect(step.getByRole("alert")).toContainText("Authorization was cancelled");
  await expect(step.getByRole("alert")).toContainText("Nothing was changed");
  await expect(step.getByRole("img", { name: "failed" })).toBeVisible();
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
