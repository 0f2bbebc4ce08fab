import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { fileURLToPath } from "node:url";

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // xterm's DOM renderer creates <style> elements at run time (measured: tests/ui/csp.spec.ts).
  // In tauri.conf.json this needs dangerousDisableAssetCspModification: ["style-src"], or the
  // nonces Tauri adds to style-src make browsers ignore 'unsafe-inline'.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self' ipc: http://ipc.localhost",
  "object-src 'none'",
  "base-uri 'none'",
].join("; ");

// The web UI lives in ui/; tauri's frontendDist is ../ui/dist.
export default defineConfig({
  root: "ui",
  plugins: [svelte({ configFile: fileURLToPath(new URL("./svelte.config.js", import.meta.url)) })],
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: ["es2021", "safari15"],
    chunkSizeWarningLimit: 1024,
  },
  server: { port: 1420, strictPort: true, host: "127.0.0.1" },
  // The preview server (Playwright) sends the strict CSP the app is meant to run under, so
  // the flows fail on anything that needs inline scripts, eval or a remote origin.
  preview: { host: "127.0.0.1", headers: { "Content-Security-Policy": CSP } },
});
