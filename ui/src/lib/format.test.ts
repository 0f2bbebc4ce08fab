import { describe, expect, it } from "vitest";
import { formatBytes, formatUptime } from "./format";
import { isErrorReport, toBytes, toErrorReport } from "./backend";

describe("format", () => {
  it("formats uptime and sizes", () => {
    expect(formatUptime(12_000)).toBe("12 s");
    expect(formatUptime(185_000)).toBe("3 min 05 s");
    expect(formatUptime(3_720_000)).toBe("1 h 02 min");
    expect(formatBytes(1536 * 1024 * 1024)).toBe("1.50 GB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MB");
  });

  it("turns any rejection into an ErrorReport", () => {
    expect(isErrorReport({ message: "m", hint: "h", fields: [] })).toBe(true);
    expect(toErrorReport(new Error("boom"))).toEqual({ message: "boom", hint: "", fields: [] });
    expect(toErrorReport("plain")).toEqual({ message: "plain", hint: "", fields: [] });
  });

  it("accepts channel bytes as number[] or ArrayBuffer", () => {
    expect(Array.from(toBytes([1, 2, 3]))).toEqual([1, 2, 3]);
    expect(Array.from(toBytes(new Uint8Array([4, 5]).buffer))).toEqual([4, 5]);
  });
});
