import "@tessera/backend-js";
import { memory } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { DataError, defaultCollate, type FloatImage } from "../src/index.js";

function image(c: number, h: number, w: number, start: number): FloatImage {
  const data = new Float32Array(c * h * w);
  for (let i = 0; i < data.length; i++) data[i] = start + i;
  return { channels: c, height: h, width: w, data };
}

describe("defaultCollate", () => {
  it("stacks images, sequences, numbers and vectors key by key, dropping strings", () => {
    const before = memory().numTensors;
    const samples = [0, 1, 2].map((b) => ({
      image: image(2, 3, 4, b * 100),
      frames: [image(1, 2, 2, b * 10), image(1, 2, 2, b * 10 + 4)],
      label: b,
      weight: b + 0.5,
      tokens: Int32Array.of(b, b + 1),
      feats: Float32Array.of(b / 2),
      path: `img${b}.png`,
    }));
    const batch = defaultCollate(samples);
    expect(Object.keys(batch).sort()).toEqual(["feats", "frames", "image", "label", "tokens", "weight"]);
    // Exactly one backend tensor per collated key.
    expect(memory().numTensors - before).toBe(6);
    expect(batch.image?.shape).toEqual([3, 2, 3, 4]);
    expect(batch.image?.dtype).toBe("float32");
    const img = batch.image?.dataSync() as Float32Array;
    expect(img[24]).toBe(100); // sample 1 starts after 2·3·4 values of sample 0
    expect(batch.frames?.shape).toEqual([3, 2, 1, 2, 2]);
    expect(Array.from((batch.frames!.dataSync() as Float32Array).slice(8, 16))).toEqual([
      10, 11, 12, 13, 14, 15, 16, 17,
    ]);
    expect(batch.label?.dtype).toBe("int32");
    expect(Array.from(batch.label?.dataSync() as Int32Array)).toEqual([0, 1, 2]);
    expect(batch.weight?.dtype).toBe("float32");
    expect(Array.from(batch.weight?.dataSync() as Float32Array)).toEqual([0.5, 1.5, 2.5]);
    expect(batch.tokens?.shape).toEqual([3, 2]);
    expect(batch.tokens?.dtype).toBe("int32");
    expect(batch.feats?.shape).toEqual([3, 1]);
    for (const t of Object.values(batch)) t.dispose();
    expect(memory().numTensors).toBe(before);
  });

  it("makes a number key float32 when any sample's value is not an integer", () => {
    const batch = defaultCollate([{ y: 1 }, { y: 2.25 }]);
    expect(batch.y?.dtype).toBe("float32");
    expect(Array.from(batch.y?.dataSync() as Float32Array)).toEqual([1, 2.25]);
    batch.y?.dispose();
  });

  it("names the key and both shapes when samples differ", () => {
    const before = memory().numTensors;
    const samples = [
      { label: 0, image: image(1, 28, 28, 0) },
      { label: 1, image: image(1, 32, 32, 0) },
    ];
    expect(() => defaultCollate(samples)).toThrow(DataError);
    expect(() => defaultCollate(samples)).toThrow(
      /'image' has shape \[1,28,28\] in sample 0 and \[1,32,32\] in sample 1/,
    );
    // The label tensor made before the failing key is not worth leaking on a bad batch.
    expect(memory().numTensors).toBe(before);
  });

  it("says what it cannot collate and what to do", () => {
    expect(() => defaultCollate([{ m: new Map() }])).toThrow(
      /'m' of sample 0 is an object.*pass a collate function/i,
    );
    expect(() => defaultCollate([])).toThrow(RangeError);
  });
});
