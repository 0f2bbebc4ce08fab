// First-run setup as the app runs it, from what the core wrote (fixtures/setup.ts): the steps
// before and after the one authorized apply, the Plan, and each step's failure as the core
// reports it. As in the app: setup_steps runs the checks, setup_plan computes the Plan (and fails
// when the image or keys are missing), setup_apply sends the authorize step while the prompt is up,
// then every step; the test build needs the builder running.
import type { BuilderInfo } from "../bindings/BuilderInfo";
import type { ErrorReport } from "../bindings/ErrorReport";
import type { ImageProgress } from "../bindings/ImageProgress";
import type { SetupPlanView } from "../bindings/SetupPlanView";
import type { SetupStep } from "../bindings/SetupStep";
import type { SetupStepId } from "../bindings/SetupStepId";
import type { TestBuildResult } from "../bindings/TestBuildResult";
import type { SetupFailure } from "../bindings/fixtures/setup";
import type { SetupFixture } from "./fixtures";
import type { MemoryOptions } from "./options";
import { clone, type Timers } from "./timers";

/** Steps whose failure setup_steps shows (the rest fail in setup_apply or the test build). */
const SHOWN_BY_STEPS: SetupStepId[] = ["checks", "image", "keys"];

export class MemorySetup {
  private listeners = new Set<(s: SetupStep) => void>();
  private failuresLeft: number;
  private cancelled = false;
  /** Nix is wired to the builder. */
  applied: boolean;

  constructor(
    private readonly opts: MemoryOptions,
    private readonly timers: Timers,
    private readonly fx: SetupFixture,
    private readonly running: () => boolean,
  ) {
    this.failuresLeft = opts.failTimes;
    this.applied = opts.setupDone;
  }

  /** The step that fails now, if any. */
  failing(): SetupStepId | null {
    return this.opts.failStep && this.failuresLeft > 0 ? this.opts.failStep : null;
  }

  private failure(id: SetupStepId): SetupFailure {
    const f = this.fx.failures[id];
    if (!f) throw new Error(`the core wrote no failure of the ${id} step for this host`);
    return clone(f);
  }

  /** Spends one failure of `id` if it is the failing step, returning its report. */
  private fails(id: SetupStepId): ErrorReport | null {
    if (this.failing() !== id) return null;
    this.failuresLeft--;
    return this.failure(id).report;
  }

  private emit(step: SetupStep): void {
    for (const l of this.listeners) l(clone(step));
  }

  onStep(cb: (s: SetupStep) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  steps(): SetupStep[] {
    const steps = clone(this.applied ? this.fx.steps.after : this.fx.steps.ready);
    const f = this.failing();
    if (f && SHOWN_BY_STEPS.includes(f)) {
      const failure = this.failure(f);
      // A Mac's image step fails in the fetch: the step then shows the fetch's error.
      const shown = failure.step ?? {
        ...steps.find((s) => s.id === f)!,
        state: "failed" as const,
        detail: failure.report.message,
        error: failure.report,
      };
      return steps.map((s) => (s.id === shown.id ? shown : s));
    }
    return steps;
  }

  /** `image_fetch`: replays the fetch the core reported for Nix's log (fixtures), or fails
   * the way the provider reports it; a cancel ends it as cancelled. */
  async imageFetch(
    onProgress: (p: ImageProgress) => void,
    stage = "stock",
  ): Promise<ImageProgress> {
    this.cancelled = false;
    const frames = this.fx.imageFetch.map((f) => ({ ...clone(f), stage }));
    let last = frames[0];
    for (const f of frames.slice(0, -1)) {
      await this.timers.sleep(this.opts.stepMs / 4);
      if (this.cancelled) {
        last = { ...last, phase: "cancelled", headline: "cancelled; nothing was changed" };
        onProgress(last);
        return last;
      }
      last = f;
      onProgress(f);
    }
    const err = this.fails("image");
    const end: ImageProgress = err
      ? { ...last, phase: "failed", error: err, headline: err.message }
      : frames[frames.length - 1];
    onProgress(end);
    return end;
  }

  imageCancel(): void {
    this.cancelled = true;
  }

  builderInfo(): BuilderInfo {
    return clone(this.fx.builderInfo[this.applied ? "wired" : "notWired"]);
  }

  async plan(): Promise<SetupPlanView> {
    await this.timers.sleep(this.opts.stepMs);
    // A failed check does not stop the Plan; a missing image or unwritable keys do.
    if (this.failing() === "checks") this.failuresLeft--;
    const err = this.fails("image") ?? this.fails("keys");
    if (err) throw err;
    const p = this.applied ? "applied" : this.opts.nixDarwin ? "nixDarwin" : "plain";
    return clone(this.fx.plans[p]);
  }

  async apply(): Promise<SetupStep[]> {
    const ready = this.fx.steps.ready;
    const authorize = ready.find((s) => s.id === "authorize")!;
    this.emit({ ...authorize, state: "running" });
    await this.timers.sleep(this.opts.stepMs);
    const id = this.failing();
    if (id === "authorize" || id === "restart") {
      this.failuresLeft--;
      const f = this.failure(id);
      if (f.step) this.emit(f.step);
      throw f.report;
    }
    this.applied = true;
    const steps = clone(this.fx.steps.applied);
    for (const s of steps) this.emit(s);
    return steps;
  }

  async testBuild(): Promise<TestBuildResult> {
    const t0 = Date.now();
    await this.timers.sleep(this.opts.stepMs);
    const err = this.fails("test-build");
    if (err) throw err;
    if (!this.running()) throw this.failure("test-build").report;
    return {
      ok: true,
      // The shape of the real output (the guest's kernel release and host name); made up here.
      output: "6.12.30 builder",
      duration_ms: Date.now() - t0 + 4100,
      error: null,
    };
  }
}
