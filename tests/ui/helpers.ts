import type { Page } from "@playwright/test";

export const SHOTS = "test-output/screenshots";

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, animations: "disabled" });
}

/** Runs `f(backend)` in the page against the MemoryBackend (window.__builderbar). */
export async function withBackend<T>(page: Page, body: string): Promise<T> {
  return page.evaluate(
    (src) =>
      new Function("bb", `return (async () => { ${src} })()`)(
        (window as unknown as { __builderbar: unknown }).__builderbar,
      ),
    body,
  ) as Promise<T>;
}
