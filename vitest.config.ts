import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

export default defineConfig({
  plugins: [svelte()],
  resolve: { conditions: ["browser"] },
  test: {
    environment: "jsdom",
    include: ["ui/src/**/*.test.ts"],
    setupFiles: ["ui/src/test-setup.ts"],
    pool: "threads",
    maxWorkers: 2,
  },
});
