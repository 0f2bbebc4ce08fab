import "./app.css";
import { mount } from "svelte";
import App from "./App.svelte";
import { inTauri, setBackend } from "./lib/backend";
import { consoleStats } from "./lib/console-writer";

async function start() {
  if (inTauri()) {
    const { TauriBackend } = await import("./lib/tauri-backend");
    setBackend(new TauriBackend());
  } else {
    const { MemoryBackend, optionsFromQuery } = await import("./lib/memory-backend");
    const backend = new MemoryBackend(optionsFromQuery(location.search));
    setBackend(backend);
    // The test hook for Playwright and for poking at the UI from devtools.
    (window as unknown as { __builderbar: unknown }).__builderbar = { backend, consoleStats };
  }
  mount(App, { target: document.getElementById("app")! });
}

void start();
