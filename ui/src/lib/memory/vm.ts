// The fake builder VM: the state machine with timers, events on every change, and the boot
// lines on the console. (Its failure texts are made up; the core's live in its supervisor.)
import type { ErrorReport } from "../bindings/ErrorReport";
import type { Host } from "../bindings/Host";
import type { VmState } from "../bindings/VmState";
import type { VmStatus } from "../bindings/VmStatus";
import { bootLines, PROMPT, type MemoryConsole } from "./console";
import type { MemoryOptions } from "./options";
import { clone, type Timers } from "./timers";

export interface VmLooks {
  host: Host;
  /** The image's name, as its manifest says. */
  image: string;
  /** The port the running builder holds. */
  port: () => number;
}

export class MemoryVm {
  private state: VmState;
  private startedAt: number | null = null;
  private listeners = new Set<(s: VmStatus) => void>();

  constructor(
    private readonly opts: MemoryOptions,
    private readonly timers: Timers,
    private readonly console: MemoryConsole,
    private readonly looks: VmLooks,
  ) {
    if (opts.initial === "running") {
      this.state = { state: "running" };
      this.startedAt = Date.now() - 754_000;
      this.console.write(bootLines(looks.host.arch).join("\r\n") + "\r\n" + PROMPT);
    } else if (opts.initial === "failed") {
      this.state = this.failedState();
    } else {
      this.state = { state: "stopped" };
    }
  }

  get name(): VmState["state"] {
    return this.state.state;
  }

  private accelerator(): string {
    if (this.looks.host.os === "macos") return "hvf";
    return this.opts.tcgFallback ? "tcg" : "kvm";
  }

  private failedState(): VmState {
    return {
      state: "failed",
      reason: `The builder did not answer on 127.0.0.1:${this.looks.port()} within 120 s`,
      hint: "Open the console to see where boot stopped, or run Doctor.",
      console_tail: [
        "<<< NixOS Stage 1 >>>",
        "loading module virtio_pci...",
        "mounting keys on /var/keys...",
        "mount: /var/keys: unknown filesystem type '9p'.",
        "An error occurred in stage 1 of the boot process.",
      ],
    };
  }

  status(): VmStatus {
    const s = this.state.state;
    const up = s === "running" || s === "starting" || s === "stopping";
    const tcg = up && this.opts.tcgFallback && this.looks.host.os === "linux";
    return {
      pid: up ? 48213 : null,
      port: up ? this.looks.port() : null,
      accelerator: up ? this.accelerator() : null,
      image: up || s === "failed" ? this.looks.image : null,
      started_at_ms: up ? this.startedAt : null,
      // Copied from crates/core/src/vm/supervisor.rs (not a fixture yet: it is made mid-start).
      notice: tcg
        ? "KVM hung at early boot on this machine (nested virtualization?), so the builder runs " +
          "under TCG (slower). Set the accelerator to kvm to try it again."
        : null,
      ...this.state,
    } as VmStatus;
  }

  onStatus(cb: (s: VmStatus) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  set(s: VmState): void {
    if ((s.state === "running" || s.state === "starting") && this.startedAt === null)
      this.startedAt = Date.now();
    this.state = s;
    const st = this.status();
    for (const l of this.listeners) l(clone(st));
  }

  start(): VmStatus {
    if (this.opts.startFails) {
      const qemu = `qemu-system-${this.looks.host.arch}`;
      throw {
        message: `${qemu} was not found`,
        hint: "Install QEMU (nix profile install nixpkgs#qemu) or set the image's qemu, then start again.",
        fields: [],
      } satisfies ErrorReport;
    }
    const s = this.state.state;
    if (s === "running" || s === "starting") return this.status();
    if (s === "stopping")
      throw {
        message: "The builder is stopping",
        hint: "Wait until it has stopped.",
        fields: [],
      } satisfies ErrorReport;
    this.startedAt = Date.now();
    this.set({ state: "starting" });
    const lines = bootLines(this.looks.host.arch);
    lines.forEach((l, i) =>
      this.timers.later((this.opts.bootMs * i) / (lines.length + 1), () =>
        this.console.write(l + "\r\n"),
      ),
    );
    this.timers.later(this.opts.bootMs, () => {
      if (this.state.state !== "starting") return;
      if (this.opts.bootFails) {
        this.set(this.failedState());
      } else {
        this.console.write(PROMPT);
        this.set({ state: "running" });
      }
    });
    return this.status();
  }

  async stop(): Promise<VmStatus> {
    if (this.state.state === "stopped") return this.status();
    this.set({ state: "stopping" });
    this.console.write("\r\n[  OK  ] Stopped target Multi-User System.\r\nreboot: Power down\r\n");
    await this.timers.sleep(this.opts.bootMs / 2);
    this.startedAt = null;
    this.set({ state: "stopped" });
    return this.status();
  }
}
