// The fake serial console: a bounded history ring, subscribers, a shell that echoes what is typed.
// (Its boot lines and answers are made up: a real guest's console cannot be a fixture.)
import type { Arch } from "../bindings/Arch";

const enc = new TextEncoder();
const HISTORY_LIMIT = 256 * 1024;
export const PROMPT = "\x1b[1;32m[root@builder:~]#\x1b[0m ";

/** What a NixOS guest of `arch` prints while it boots (abridged). */
export function bootLines(arch: Arch): string[] {
  const tty = arch === "aarch64" ? "ttyAMA0" : "ttyS0";
  return [
    "[    0.000000] Linux version 6.12.30 (nixbld@localhost) (gcc 14.2.1) #1-NixOS SMP",
    `[    0.000000] Command line: console=${tty} panic=1 boot.panic_on_fail loglevel=4`,
    "[    0.012345] Memory: 3012MB available",
    "[    0.421337] virtio_blk virtio1: [vda] 41943040 512-byte logical blocks",
    "[    0.533210] 9pnet: Installing 9P2000 support",
    "<<< NixOS Stage 1 >>>",
    "loading module virtio_pci...",
    "mounting keys on /var/keys...",
    "<<< NixOS Stage 2 >>>",
    "running activation script...",
    "setting up /etc...",
    "[  OK  ] Started OpenSSH Daemon.",
    "[  OK  ] Reached target Multi-User System.",
    "",
    `<<< Welcome to NixOS 26.05 (${arch}) - ${tty} >>>`,
    "",
  ];
}

/** A record of what the UI sent to the console, with when it arrived (for latency tests). */
export interface InputRecord {
  data: string;
  at: number;
}

export class MemoryConsole {
  private history: Uint8Array[] = [];
  private historyBytes = 0;
  private subs = new Set<(b: Uint8Array) => void>();
  private line = "";
  /** Everything typed into the console, in order. */
  readonly inputs: InputRecord[] = [];

  constructor(
    private readonly arch: Arch,
    private readonly running: () => boolean,
  ) {}

  /** Bytes from the "serial port": into the ring and to every subscriber. */
  write(data: string | Uint8Array): void {
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    this.history.push(bytes);
    this.historyBytes += bytes.length;
    while (this.historyBytes > HISTORY_LIMIT && this.history.length > 1) {
      this.historyBytes -= this.history.shift()!.length;
    }
    for (const s of this.subs) s(bytes);
  }

  /**
   * A burst of `total` bytes of log lines, delivered in chunks of `chunk` bytes (like the
   * Rust side's 64 KiB batches), all in one task.
   */
  burst(total = 1024 * 1024, chunk = 64 * 1024): number {
    const line = (i: number) =>
      `[${(i / 1000).toFixed(6).padStart(12)}] building '/nix/store/${i.toString(36).padStart(8, "0")}-hello-2.12.drv' \x1b[2m(${i})\x1b[0m\r\n`;
    let buf = "";
    let sent = 0;
    let i = 0;
    while (sent < total) {
      buf += line(i++);
      if (buf.length >= chunk || sent + buf.length >= total) {
        const b = enc.encode(buf.slice(0, total - sent));
        if (sent + b.length >= total && b.length >= 2) b.set([13, 10], b.length - 2); // end the line
        this.write(b);
        sent += b.length;
        buf = "";
      }
    }
    return sent;
  }

  attach(onData: (b: Uint8Array) => void): void {
    const all = new Uint8Array(this.historyBytes);
    let o = 0;
    for (const h of this.history) {
      all.set(h, o);
      o += h.length;
    }
    onData(all);
    this.subs.clear();
    this.subs.add(onData);
  }

  detach(): void {
    this.subs.clear();
  }

  input(data: string): void {
    this.inputs.push({ data, at: Date.now() });
    if (!this.running()) return;
    for (const ch of data) {
      if (ch === "\r" || ch === "\n") {
        const cmd = this.line.trim();
        this.line = "";
        this.write("\r\n" + answer(cmd, this.arch) + PROMPT);
      } else if (ch === "\x7f") {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, -1);
          this.write("\b \b");
        }
      } else if (ch >= " ") {
        this.line += ch;
        this.write(ch);
      }
    }
  }
}

function answer(cmd: string, arch: Arch): string {
  if (cmd === "") return "";
  if (cmd === "uname -a") return `Linux builder 6.12.30 #1-NixOS SMP ${arch} GNU/Linux\r\n`;
  if (cmd === "hostname") return "builder\r\n";
  if (cmd.startsWith("echo ")) return cmd.slice(5) + "\r\n";
  return `-bash: ${cmd.split(" ")[0]}: command not found\r\n`;
}
