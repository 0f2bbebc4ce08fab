// Every view runs under the strict CSP the preview server sends (vite.config.ts): no inline
// scripts, no eval, no remote origins.
import { expect, test } from "@playwright/test";

for (const view of ["dashboard", "console", "settings", "doctor", "setup"]) {
  test(`CSP: ${view} runs without violations`, async ({ page }) => {
    await page.addInitScript(() => {
      const w = window as unknown as { __csp: string[] };
      w.__csp = [];
      document.addEventListener("securitypolicyviolation", (e) =>
        w.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
      );
    });
    const response = await page.goto(`/?scenario=running&metrics=100#/${view}`);
    expect(response!.headers()["content-security-policy"]).toContain("script-src 'self'");
    await expect(page.locator("main")).toBeVisible();
    await page.waitForTimeout(500);
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
