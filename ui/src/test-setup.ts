// jsdom lacks layout, canvas and a few browser APIs. xterm and uPlot are replaced by small
// fakes that record what the views ask of them; the real ones run in the Playwright flows.
import { afterEach, vi } from "vitest";
import { cleanup } from "@testing-library/svelte";
import { configure } from "@testing-library/dom";

afterEach(() => cleanup());
// The machine is shared with other builds: wait generously for the UI to settle.
configure({ asyncUtilTimeout: 5000 });

class RO {
  observe() {}
  unobserve() {}
  disconnect() {}
}
(globalThis as unknown as { ResizeObserver: unknown }).ResizeObserver ??= RO;

if (!window.matchMedia) {
  window.matchMedia = (query: string) =>
    ({
      matches: false,
      media: query,
      onchange: null,
      addEventListener() {},
      removeEventListener() {},
      addListener() {},
      removeListener() {},
      dispatchEvent: () => false,
    }) as MediaQueryList;
}

export const clipboard = { text: "" };
Object.defineProperty(navigator, "clipboard", {
  configurable: true,
  value: {
    writeText: async (t: string) => {
      clipboard.text = t;
    },
  },
});

vi.mock("@xterm/xterm", async () => await import("./test-fakes/xterm"));
vi.mock("@xterm/addon-fit", () => ({
  FitAddon: class {
    activate() {}
    dispose() {}
    fit() {}
  },
}));
vi.mock("@xterm/addon-search", () => ({
  SearchAddon: class {
    activate() {}
    dispose() {}
    findNext() {
      return true;
    }
    findPrevious() {
      return true;
    }
    clearDecorations() {}
  },
}));
vi.mock("uplot", () => ({
  default: class {
    static instances = 0;
    data: unknown;
    constructor(_opts: unknown, data: unknown) {
      this.data = data;
    }
    setData(d: unknown) {
      this.data = d;
    }
    setSize() {}
    destroy() {}
  },
}));
