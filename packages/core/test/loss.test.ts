import { beforeAll, describe, expect, it } from "vitest";
import {
  binaryCrossEntropyWithLogits,
  crossEntropy,
  Generator,
  l1Loss,
  memory,
  mseLoss,
  randint,
  randn,
  setBackend,
  smoothL1Loss,
  tensor,
  tidy,
} from "../src/index.js";
import { expectClose } from "./helpers.js";

const close = expectClose;

/** PyTorch 1.13's cross_entropy (class indices, with weights, ignore_index and label smoothing), transcribed. */
function refCrossEntropy(
  rows: number[][],
  target: number[],
  o: { weight?: number[]; ignore?: number; eps?: number; reduction?: "none" | "mean" | "sum" },
): number | number[] {
  const C = rows[0]!.length;
  const ignore = o.ignore ?? -100;
  const eps = o.eps ?? 0;
  const w = o.weight ?? new Array(C).fill(1);
  const per: number[] = [];
  let wsum = 0;
  rows.forEach((r, i) => {
    const m = Math.max(...r);
    const lse = m + Math.log(r.reduce((s, x) => s + Math.exp(x - m), 0));
    const lsm = r.map((x) => x - lse);
    const t = target[i]!;
    if (t === ignore) {
      per.push(0);
      return;
    }
    wsum += w[t]!;
    const nll = -lsm[t]! * w[t]!;
    const smooth = -lsm.reduce((s, l, c) => s + l * w[c]!, 0);
    per.push((1 - eps) * nll + (eps / C) * smooth);
  });
  if (o.reduction === "none") return per;
  const total = per.reduce((a, b) => a + b, 0);
  return o.reduction === "sum" ? total : total / wsum;
}

const LOGITS = [
  [1, 2, 3],
  [1, 1, 1],
  [-2, 0.5, 4],
  [0, -1, 2],
];
const idx = (v: number[]) => tensor(v, { dtype: "int32" });

describe.each(["js", "js-prim"])("losses on %s", (backend) => {
  beforeAll(() => setBackend(backend));

  it("crossEntropy mean and sum match -log softmax at the target", () => {
    tidy(() => {
      const x = tensor(LOGITS.slice(0, 2));
      close(crossEntropy(x, idx([2, 0])), (0.40760596 + 1.09861229) / 2);
      close(crossEntropy(x, idx([2, 0]), { reduction: "sum" }), 0.40760596 + 1.09861229);
      close(crossEntropy(x, idx([2, 0]), { reduction: "none" }), [0.40760596, 1.09861229]);
    });
  });

  it("crossEntropy ignoreIndex rows are excluded from the mean's denominator", () => {
    tidy(() => {
      const x = tensor(LOGITS.slice(0, 2));
      close(crossEntropy(x, idx([2, -100])), 0.40760596);
      close(crossEntropy(x, idx([2, 1]), { ignoreIndex: 1, reduction: "none" }), [0.40760596, 0]);
      close(crossEntropy(x, idx([-100, -100])), Number.NaN);
    });
  });

  it("crossEntropy class weights divide the mean by the summed target weights", () => {
    tidy(() => {
      const x = tensor(LOGITS.slice(0, 2));
      close(crossEntropy(x, idx([2, 0]), { weight: tensor([1, 2, 3]) }), (3 * 0.40760596 + 1.09861229) / 4);
    });
  });

  it("crossEntropy label smoothing is (1−ε)·nll + ε·mean_c(−log p_c), weighted like PyTorch", () => {
    tidy(() => {
      const x = tensor(LOGITS);
      close(
        crossEntropy(tensor(LOGITS.slice(0, 2)), idx([2, 0]), { labelSmoothing: 0.1 }),
        (0.50760596 + 1.09861229) / 2,
      );
      const target = [2, -100, 0, 1];
      for (const reduction of ["mean", "sum", "none"] as const) {
        const o = { weight: [0.5, 2, 1.5], ignore: -100, eps: 0.2, reduction };
        const y = crossEntropy(x, idx(target), { weight: tensor(o.weight), labelSmoothing: 0.2, reduction });
        close(y, refCrossEntropy(LOGITS, target, o) as number | number[]);
      }
    });
  });

  it("crossEntropy takes the class dim 1 of [N,C,d] inputs", () => {
    tidy(() => {
      const g = new Generator(3);
      const x = randn([2, 4, 5], { generator: g });
      const t = randint(0, 4, [2, 5], { generator: g });
      const flat = crossEntropy(x.permute(0, 2, 1).reshape([10, 4]), t.reshape([10]), { reduction: "none" });
      const y = crossEntropy(x, t, { reduction: "none" });
      expect(y.shape).toEqual([2, 5]);
      close(y, flat.dataSync());
      close(crossEntropy(x, t), flat.mean().dataSync());
      expect(
        crossEntropy(tensor([1, 2, 3]), tensor(2, { dtype: "int32" }), { reduction: "none" }).shape,
      ).toEqual([]);
    });
  });

  it("crossEntropy with one-hot probability targets equals class-index targets", () => {
    tidy(() => {
      const x = tensor(LOGITS);
      const t = [2, 0, 1, 1];
      const p = tensor(t.map((c) => [0, 1, 2].map((j) => (j === c ? 1 : 0))));
      close(crossEntropy(x, p), crossEntropy(x, idx(t)).dataSync());
      close(
        crossEntropy(x, p, { labelSmoothing: 0.3 }),
        crossEntropy(x, idx(t), { labelSmoothing: 0.3 }).dataSync(),
      );
      close(
        crossEntropy(x, p, { reduction: "none" }),
        crossEntropy(x, idx(t), { reduction: "none" }).dataSync(),
      );
    });
  });

  it("crossEntropy errors name the op, the shapes and the argument", () => {
    tidy(() => {
      const x = tensor(LOGITS);
      expect(() => crossEntropy(x, idx([1, 2]))).toThrow(
        /crossEntropy: target \[2\] must be logits \[4,3\] without the class dim 1, i.e. \[4\]/,
      );
      expect(() => crossEntropy(x, tensor([1, 2, 0, 1]).cast("bool"))).toThrow(
        /crossEntropy: target must be int32/,
      );
      expect(() => crossEntropy(x, idx([1, 2, 0, 1]), { weight: tensor([1, 2]) })).toThrow(
        /crossEntropy: weight must be float32 \[3\]/,
      );
      expect(() => crossEntropy(x, idx([1, 2, 0, 1]), { labelSmoothing: 2 })).toThrow(
        /labelSmoothing must be in \[0, 1\]/,
      );
      expect(() => crossEntropy(x, idx([1, 2, 0, 1]), { reduction: "avg" as "mean" })).toThrow(
        /reduction must be 'none', 'mean' or 'sum'/,
      );
    });
  });

  it("mseLoss, l1Loss and smoothL1Loss match hand values", () => {
    tidy(() => {
      const x = tensor([0, 1, 3]);
      const y = tensor([0.5, 1, 0]);
      close(mseLoss(x, y), 9.25 / 3);
      close(mseLoss(x, y, { reduction: "none" }), [0.25, 0, 9]);
      close(l1Loss(x, y, { reduction: "sum" }), 3.5);
      close(smoothL1Loss(x, y), 2.625 / 3);
      close(smoothL1Loss(x, y, { beta: 0.5, reduction: "none" }), [0.25, 0, 2.75]);
      close(smoothL1Loss(x, y, { beta: 0 }), 3.5 / 3);
      expect(() => mseLoss(x, tensor([1, 2]))).toThrow(
        /mseLoss: target float32 \[2\] must match input float32 \[3\]/,
      );
    });
  });

  it("binaryCrossEntropyWithLogits is stable and applies weight and posWeight", () => {
    tidy(() => {
      const x = tensor([0, 2, -3, 100, -100]);
      const y = tensor([1, 0, 1, 0, 1]);
      const base = [Math.LN2, 2.12692801, 3.04858735, 100, 100];
      close(binaryCrossEntropyWithLogits(x, y, { reduction: "none" }), base);
      close(binaryCrossEntropyWithLogits(x, y, { posWeight: tensor([2, 2, 2, 2, 2]), reduction: "none" }), [
        2 * Math.LN2,
        2.12692801,
        2 * 3.04858735,
        100,
        200,
      ]);
      close(
        binaryCrossEntropyWithLogits(x, y, { weight: tensor([1, 0, 1, 0, 0]), reduction: "sum" }),
        Math.LN2 + 3.04858735,
      );
    });
  });

  it("losses leave the live tensor count unchanged", () => {
    const x = randn([6, 5]);
    const t = randint(0, 5, [6]);
    const w = randn([5]).abs();
    const y = randn([6, 5]);
    const probs = y.softmax(1);
    for (const run of [
      () => crossEntropy(x, t, { weight: w, labelSmoothing: 0.1 }),
      () => crossEntropy(x, t, { reduction: "none", ignoreIndex: 2 }),
      () => crossEntropy(x, probs, { labelSmoothing: 0.1 }),
      () => mseLoss(x, y),
      () => smoothL1Loss(x, y, { beta: 0.3 }),
      () => binaryCrossEntropyWithLogits(x, y, { posWeight: w, weight: w }),
    ]) {
      const before = memory().numTensors;
      const r = run();
      r.dispose();
      expect(memory().numTensors).toBe(before);
    }
    for (const t2 of [x, t, w, y, probs]) t2.dispose();
  });
});

describe("fused crossEntropy equals the composite", () => {
  it("js and js-prim agree with weights, ignoreIndex, smoothing and every reduction", () => {
    tidy(() => {
      setBackend("js");
      const g = new Generator(17);
      const x = randn([3, 7, 4, 2], { generator: g }).mul(3);
      const t = randint(-1, 7, [3, 4, 2], { generator: g });
      const w = randn([7], { generator: g }).abs();
      for (const reduction of ["none", "mean", "sum"] as const) {
        for (const labelSmoothing of [0, 0.15]) {
          const o = { ignoreIndex: -1, labelSmoothing, reduction };
          close(
            crossEntropy(x, t, { ...o, weight: w }),
            crossEntropy(x.to("js-prim"), t.to("js-prim"), { ...o, weight: w.to("js-prim") }).dataSync(),
            1e-4,
          );
          close(crossEntropy(x, t, o), crossEntropy(x.to("js-prim"), t.to("js-prim"), o).dataSync(), 1e-4);
        }
      }
    });
  });
});
