// Every view runs under the strict CSP the preview server sends (vite.config.ts): no inline
// scripts, no eval, no remote origins; and with Object.prototype frozen, as Tauri's
// freezePrototype does.
import { expect, test } from "@playwright/test";

for (const view of ["dashboard", "console", "settings", "doctor", "setup"]) {
  test(`CSP: ${view} runs without violations`, async ({ page }) => {
    await page.addInitScript(() => {
      // tauri.conf.json sets freezePrototype: the app must not write to Object.prototype.
      Object.freeze(Object.prototype);
      const w = window as unknown as { __csp: string[] };
      w.__csp = [];
      document.addEventListener("securitypolicyviolation", (e) =>
        w.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
      );
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const response = await page.goto(`/?scenario=running&metrics=100#/${view}`);
    expect(response!.headers()["content-security-policy"]).toContain("script-src 'self'");
    await expect(page.locator("main")).toBeVisible();
    if (view === "console") {
      await expect(page.locator(".xterm-rows")).toContainText("Welcome to NixOS");
      await page.locator(".xterm-helper-textarea").focus();
      await page.keyboard.type("hostname\n");
      await expect(page.locator(".xterm-rows")).toContainText("hostname builder", {
        useInnerText: true,
      });
    }
    await page.waitForTimeout(500);
    expect(errors).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
  });
}

for (const view of ["dashboard", "console", "settings", "doctor", "setup"]) {
  test(`a11y: every control in ${view} has an accessible name`, async ({ page }) => {
    await page.goto(`/?scenario=running#/${view}`);
    await expect(page.locator("main")).toBeVisible();
    await page.waitForTimeout(300);
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll("main button, main input, main select")]
        .filter((el) => !el.closest(".xterm")) // xterm's own helper textarea
        .filter((el) => {
          const aria = el.getAttribute("aria-label")?.trim();
          const text = el.textContent?.trim();
          const labels = (el as HTMLInputElement).labels;
          return !aria && !(el.tagName === "BUTTON" && text) && !(labels && labels.length > 0);
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(unnamed).toEqual([]);
  });
}
