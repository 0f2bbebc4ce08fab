import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { fileURLToPath } from "node:url";

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
  preview: { host: "127.0.0.1" },
});
