import { defineConfig, type Plugin } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { fileURLToPath } from "node:url";

/** The app's CSP, as in src-tauri/tauri.conf.json. */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // xterm's DOM renderer creates <style> elements at run time (measured: tests/ui/csp.spec.ts).
  // In tauri.conf.json this needs dangerousDisableAssetCspModification: ["style-src"], or the
  // nonces Tauri adds to style-src make browsers ignore 'unsafe-inline'.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src ipc: http://ipc.localhost",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * Tauri's `freezePrototype` freezes Object.prototype, and then `ns.toString = f` on a plain
 * object throws (the "override mistake"). @xterm/xterm 6.0.0 bundles VS Code's KeyCodeUtils
 * namespace, which does exactly that once at load, so the console window would not load.
 * Rewrite those assignments to Object.defineProperty, which is unaffected
 * (xtermjs/xterm.js#5131; tests/ui/csp.spec.ts runs every view with the prototype frozen).
 */
function xtermFrozenPrototype(): Plugin {
  return {
    name: "builderbar:xterm-frozen-prototype",
    transform(code, id) {
      if (!/[\\/]@xterm[\\/]xterm[\\/]lib[\\/]xterm\.mjs$/.test(id)) return null;
      return code.replace(
        /([A-Za-z_$][\w$]*)\.toString=([A-Za-z_$][\w$]*);/g,
        'Object.defineProperty($1,"toString",{value:$2,writable:!0,configurable:!0});',
      );
    },
  };
}

// The web UI lives in ui/; tauri's frontendDist is ../ui/dist.
export default defineConfig({
  root: "ui",
  plugins: [
    xtermFrozenPrototype(),
    svelte({ configFile: fileURLToPath(new URL("./svelte.config.js", import.meta.url)) }),
  ],
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: ["es2021", "safari15"],
    chunkSizeWarningLimit: 1024,
  },
  // Not pre-bundled, so the transform above also applies under `vite` (tauri dev).
  optimizeDeps: { exclude: ["@xterm/xterm"] },
  // tauri.conf.json's devUrl is http://localhost:1420.
  server: { port: 1420, strictPort: true },
  // The preview server (Playwright) sends the strict CSP the app is meant to run under, so
  // the flows fail on anything that needs inline scripts, eval or a remote origin.
  preview: { host: "127.0.0.1", headers: { "Content-Security-Policy": CSP } },
});
