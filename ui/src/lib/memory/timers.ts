// The timers of the in-memory backend's parts, in one place so `dispose()` stops them all.
export class Timers {
  private pending = new Set<ReturnType<typeof setTimeout>>();

  later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.pending.delete(t);
      f();
    }, ms);
    this.pending.add(t);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((r) => this.later(ms, r));
  }

  dispose(): void {
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }
}

export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
