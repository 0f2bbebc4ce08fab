// Made-up CPU and memory samples of the fake builder, at the real app's cadence, only while
// someone watches and the VM is up.
import type { MetricsSample } from "../bindings/MetricsSample";
import type { VmState } from "../bindings/VmState";

export class MemoryMetrics {
  private subs = new Set<(s: MetricsSample) => void>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private tick = 0;

  constructor(
    private readonly everyMs: number,
    private readonly vmState: () => VmState["state"],
  ) {}

  private sample(): MetricsSample {
    this.tick++;
    const booting = this.vmState() === "starting";
    const base = booting ? 160 : 6;
    const cpu = Math.max(
      0,
      base + 25 * Math.sin(this.tick / 3) ** 2 + (this.tick % 7 === 0 ? 60 : 0),
    );
    const rss = (booting ? 900 : 1400) * 1024 * 1024 + 40 * 1024 * 1024 * Math.sin(this.tick / 5);
    return {
      at_ms: Date.now(),
      cpu_percent: Math.round(cpu * 10) / 10,
      rss_bytes: Math.round(rss),
    };
  }

  watch(onSample: (s: MetricsSample) => void): void {
    this.subs.add(onSample);
    if (this.timer) return;
    this.timer = setInterval(() => {
      const s = this.vmState();
      if (s !== "running" && s !== "starting" && s !== "stopping") return;
      const x = this.sample();
      for (const m of this.subs) m(x);
    }, this.everyMs);
  }

  unwatch(): void {
    this.subs.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get watchers(): number {
    return this.subs.size;
  }
}
