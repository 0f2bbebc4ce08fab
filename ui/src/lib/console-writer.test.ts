import { describe, expect, it } from "vitest";
import { BatchedWriter } from "./console-writer";

function harness(highWater = 1 << 20, piece = 1 << 20) {
  const frames: (() => void)[] = [];
  const writes: { data: Uint8Array; done: () => void }[] = [];
  const w = new BatchedWriter(
    (data, done) => writes.push({ data, done }),
    (f) => frames.push(f),
    highWater,
    piece,
  );
  const frame = () => frames.splice(0).forEach((f) => f());
  return { w, writes, frame, frames };
}

describe("BatchedWriter", () => {
  it("writes everything received within one frame as one write", () => {
    const { w, writes, frame } = harness();
    for (let i = 0; i < 100; i++) w.push(new Uint8Array([i]));
    expect(writes.length).toBe(0);
    frame();
    expect(writes.length).toBe(1);
    expect(Array.from(writes[0].data)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it("holds bytes while the terminal is behind (flow control), then resumes", () => {
    const { w, writes, frame, frames } = harness(10);
    w.push(new Uint8Array(20));
    frame();
    expect(writes.length).toBe(1);
    w.push(new Uint8Array(5));
    expect(frames.length).toBe(0); // 20 in flight > 10: wait
    expect(w.backlog).toBe(5);
    writes[0].done();
    expect(frames.length).toBe(1);
    frame();
    expect(writes.length).toBe(2);
    expect(writes[1].data.length).toBe(5);
  });

  it("hands a large flush to the terminal in pieces", () => {
    const { w, writes, frame } = harness(1 << 20, 4);
    w.push(new Uint8Array(10));
    frame();
    expect(writes.map((x) => x.data.length)).toEqual([4, 4, 2]);
  });

  it("writes nothing after close", () => {
    const { w, writes, frame } = harness();
    w.push(new Uint8Array(3));
    w.close();
    frame();
    w.push(new Uint8Array(3));
    frame();
    expect(writes.length).toBe(0);
  });
});
