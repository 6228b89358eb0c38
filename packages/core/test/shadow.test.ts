import { JsBackend } from "@tessera/backend-js";
import { describe, expect, it } from "vitest";
import type { View } from "../src/index.js";
import { layerNormBackward, registerBackend, shadow, tensor, tidy, withBackend } from "../src/index.js";

/** backend-js with exp off by 1e-3: the kind of bug shadow() exists to locate. */
class SloppyExp extends JsBackend {
  override unary(op: Parameters<JsBackend["unary"]>[0], x: View, out: View): void {
    super.unary(op, x, out);
    if (op === "exp") {
      const a = this.storage.get(out.id) as Float32Array;
      a[out.offset] = a[out.offset]! + 1e-3;
    }
  }
}

registerBackend("shadow-ok", () => shadow(new JsBackend({ name: "a" }), new JsBackend({ name: "b" })), 0);
registerBackend(
  "shadow-bad",
  () => shadow(new SloppyExp({ name: "sloppy" }), new JsBackend({ name: "ref" })),
  0,
);

describe("shadow backend", () => {
  it("agrees with itself through a chain of ops", () => {
    withBackend("shadow-ok", () =>
      tidy(() => {
        const x = tensor([
          [1, 2, 3],
          [4, 5, 6],
        ]);
        const y = x.transpose(0, 1).mul(2).exp().sub(1).contiguous();
        expect(y.shape).toEqual([3, 2]);
        expect(y.dataSync()[1]).toBeCloseTo(Math.exp(8) - 1, 0);
      }),
    );
  });

  it("names the first kernel that diverges and the element", () => {
    withBackend("shadow-bad", () =>
      tidy(() => {
        const x = tensor([0, 1, 2]);
        const y = x.mul(2); // fine
        expect(() => y.exp()).toThrow(
          /shadow: unary:exp \(call #\d+\) diverges from 'ref' on output \[3\] float32: element 0 is 1.00100/,
        );
      }),
    );
  });

  it("in collect mode reports each diverging kernel once, judged on equal inputs", () => {
    const found: string[] = [];
    const b = shadow(new SloppyExp({ name: "s2" }), new JsBackend({ name: "r2" }), {
      onDivergence: (d) => found.push(d.kernel),
    });
    registerBackend("shadow-collect", () => b, 0);
    withBackend("shadow-collect", () =>
      tidy(() => {
        tensor([-1, -2]).exp().add(1).exp(); // exp(1.37) ≈ 3.9: 1e-3 is beyond rtol there too
      }),
    );
    expect(found).toEqual(["unary:exp", "unary:exp"]);
    expect(b.divergences[0]!.index).toBe(0);
  });
});

describe("shadow backend and backward kernels", () => {
  it("wraps the backward kernels and checks each gradient they write (dbias off here)", () => {
    const inner = new JsBackend({ name: "bad-dbias" });
    const main = Object.create(inner) as JsBackend;
    Object.defineProperty(main, "fused", {
      value: {
        ...inner.fused,
        layerNormBackward: (...a: Parameters<Required<JsBackend["fused"]>["layerNormBackward"]>) => {
          inner.fused.layerNormBackward!(...a);
          const dbias = a[7];
          if (!dbias) return;
          const arr = inner.storage.get(dbias.id) as Float32Array;
          arr[dbias.offset + 1] = arr[dbias.offset + 1]! + 1;
        },
      },
    });
    const b = shadow(main, new JsBackend({ name: "ref-dbias" }));
    expect(typeof b.fused.softmaxBackward).toBe("function");
    registerBackend("shadow-backward", () => b, 0);
    withBackend("shadow-backward", () =>
      tidy(() => {
        const x = tensor([
          [1, 2, 4],
          [0, -1, 3],
        ]);
        const dy = tensor([
          [1, 0, 2],
          [0.5, 1, -1],
        ]);
        expect(() => layerNormBackward(x, null, dy, 3, 1e-5, { dbias: false })).not.toThrow();
        expect(() => layerNormBackward(x, null, dy, 3, 1e-5, { dweight: true, dbias: true })).toThrow(
          /shadow: layerNormBackward \(call #\d+\) diverges from 'ref-dbias' on output \[3\] float32: element 1/,
        );
      }),
    );
  });
});
