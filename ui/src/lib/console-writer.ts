// Coalesces console bytes into at most one flush per animation frame, with flow control:
// while more than `highWater` bytes are still being parsed by the terminal, new bytes wait.
// A flush hands the terminal pieces of at most `piece` bytes: xterm parses a write whole
// and yields to the page only between writes (every ~12 ms), so one 1 MB write would block
// the main thread for its whole parse, and thousands of tiny ones waste time on overhead.

/** Counters for tests and benchmarks (exposed as window.__builderbar.consoleStats). */
export const consoleStats = { received: 0, written: 0, writes: 0, flushes: 0 };

type Sink = (data: Uint8Array, done: () => void) => void;
type Schedule = (f: () => void) => unknown;

export class BatchedWriter {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private inFlight = 0;
  private scheduled = false;
  private closed = false;

  constructor(
    private sink: Sink,
    private schedule: Schedule = (f) => requestAnimationFrame(() => f()),
    private highWater = 1 << 20,
    private piece = 32 * 1024,
  ) {}

  push(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    consoleStats.received += bytes.length;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    this.kick();
  }

  /** Bytes received but not yet handed to the terminal. */
  get backlog(): number {
    return this.pendingBytes;
  }

  close(): void {
    this.closed = true;
    this.pending = [];
    this.pendingBytes = 0;
  }

  private kick(): void {
    if (this.scheduled || this.pendingBytes === 0 || this.inFlight > this.highWater) return;
    this.scheduled = true;
    this.schedule(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.closed || this.pendingBytes === 0) return;
    let data: Uint8Array;
    if (this.pending.length === 1) {
      data = this.pending[0];
    } else {
      data = new Uint8Array(this.pendingBytes);
      let o = 0;
      for (const p of this.pending) {
        data.set(p, o);
        o += p.length;
      }
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.inFlight += data.length;
    consoleStats.flushes++;
    for (let o = 0; o < data.length; o += this.piece) {
      const part = data.subarray(o, Math.min(o + this.piece, data.length));
      const n = part.length;
      consoleStats.writes++;
      this.sink(part, () => {
        this.inFlight -= n;
        consoleStats.written += n;
        this.kick();
      });
    }
  }
}
