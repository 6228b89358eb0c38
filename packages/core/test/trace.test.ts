import { afterEach, describe, expect, it } from "vitest";
import "@tessera/backend-js";
import {
  memory,
  type OpHook,
  resetPeakMemory,
  setOpHook,
  silu,
  softmax,
  tensor,
  tracedOpNames,
  untraced,
  zeros,
} from "../src/index.js";

/** A hook that logs op names and runs each op with or without tracing inside. */
function recorder(traceInside: (name: string) => boolean) {
  const seen: string[] = [];
  const disposed: number[] = [];
  const hook: OpHook = {
    call(name, _args, run) {
      seen.push(name);
      return run(traceInside(name));
    },
    disposed(t) {
      disposed.push((t as unknown as { id: number }).id);
    },
  };
  return { hook, seen, disposed };
}

describe("op tracing", () => {
  afterEach(() => {
    setOpHook(undefined);
  });

  it("a hook sees each public op once, and inner ops only when it traces inside", () => {
    const x = tensor([[1, 2, 3]]);
    const opaque = recorder(() => false);
    setOpHook(opaque.hook);
    softmax(x, -1).dispose();
    expect(opaque.seen).toEqual(["softmax"]);

    // silu is a composite: traced inside, its sigmoid and mul are seen; each of those runs opaque.
    const open = recorder((name) => name === "silu");
    setOpHook(open.hook);
    silu(x).transpose(0, 1).dispose();
    expect(open.seen).toEqual(["silu", "sigmoid", "mul", "permute"]);
    setOpHook(undefined);
    x.dispose();
  });

  it("untraced hides ops from the hook and disposal is reported", () => {
    const r = recorder(() => false);
    setOpHook(r.hook);
    const x = tensor([1, 2]);
    untraced(() => x.add(1).dispose());
    expect(r.seen).toEqual([]);
    x.dispose();
    expect(r.disposed).toContain(x.id);
  });

  it("method arguments reach the hook with the receiver first", () => {
    const args: unknown[][] = [];
    setOpHook({
      call(_name, a, run) {
        args.push([...a]);
        return run(false);
      },
      disposed() {},
    });
    const x = zeros([2, 3]);
    x.slice(1, 0, 2).dispose();
    expect(args[0]![0]).toBe(x);
    expect(args[0]!.slice(1)).toEqual([1, 0, 2]);
    x.dispose();
  });

  it("the traced op list names views, elementwise and fused ops", () => {
    const names = tracedOpNames();
    for (const n of ["add", "slice", "expand", "softmax", "conv2d", "scaledDotProductAttention", "var"])
      expect(names).toContain(n);
  });
});

describe("peak memory", () => {
  it("peakBytes records the high-water mark and resetPeakMemory starts a new window", () => {
    resetPeakMemory();
    const base = memory().numBytes;
    const a = zeros([1000]);
    const b = zeros([1000]);
    a.dispose();
    b.dispose();
    expect(memory().peakBytes).toBe(base + 8000);
    resetPeakMemory();
    expect(memory().peakBytes).toBe(memory().numBytes);
  });
});
