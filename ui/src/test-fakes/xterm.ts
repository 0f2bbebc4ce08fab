// A stand-in for @xterm/xterm's Terminal in jsdom: records writes, lets tests type.
type DataHandler = (d: string) => void;

export class Terminal {
  static last: Terminal | null = null;
  writes: Uint8Array[] = [];
  cleared = 0;
  disposed = false;
  selection = "";
  options: Record<string, unknown>;
  private handlers: DataHandler[] = [];

  constructor(options: Record<string, unknown> = {}) {
    this.options = options;
    Terminal.last = this;
  }
  loadAddon() {}
  open(el: HTMLElement) {
    const d = document.createElement("div");
    d.className = "xterm-fake";
    el.appendChild(d);
  }
  write(data: Uint8Array | string, cb?: () => void) {
    this.writes.push(typeof data === "string" ? new TextEncoder().encode(data) : data);
    queueMicrotask(() => cb?.());
  }
  onData(h: DataHandler) {
    this.handlers.push(h);
    return { dispose: () => (this.handlers = this.handlers.filter((x) => x !== h)) };
  }
  /** Test helper: the user types. */
  type(d: string) {
    for (const h of this.handlers) h(d);
  }
  /** Test helper: everything written, as text. */
  text(): string {
    const dec = new TextDecoder();
    return this.writes.map((w) => dec.decode(w)).join("");
  }
  getSelection() {
    return this.selection;
  }
  clearSelection() {}
  clear() {
    this.cleared++;
  }
  focus() {}
  dispose() {
    this.disposed = true;
  }
}
