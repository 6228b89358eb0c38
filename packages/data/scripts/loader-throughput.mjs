// Images/s of the DataLoader alone (no model): the shipped Fashion-MNIST training subset (or
// --data DIR), batch 128, shuffled, collated to tensors on the js backend and disposed, with 0 and
// 2 worker threads, with and without a random crop (padding 2) + horizontal flip.
// Run from packages/data after `npx tsup`:
//   node scripts/loader-throughput.mjs [--data DIR] [--epochs 6] [--workers 0,2]
import "@tessera/backend-js";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { dispose } from "@tessera/core";
import { compose, DataLoader, IdxImageDataset, randomCrop, randomHorizontalFlip } from "../dist/index.js";

const { values } = parseArgs({
  options: {
    data: { type: "string" },
    epochs: { type: "string", default: "6" },
    workers: { type: "string", default: "0,2" },
    "batch-size": { type: "string", default: "128" },
  },
});
const epochs = Number(values.epochs);
const batchSize = Number(values["batch-size"]);
const augment = compose([randomCrop(28, { padding: 2 }), randomHorizontalFlip()]);

console.log(
  `node ${process.version}, ${availableParallelism()} cores, batch ${batchSize}, ${epochs} epochs each`,
);
for (const transform of [undefined, augment]) {
  const dataset = await IdxImageDataset.load({ dir: values.data, split: "train", transform });
  for (const workers of values.workers.split(",").map(Number)) {
    const loader = new DataLoader(dataset, { batchSize, shuffle: true, seed: 0, workers });
    const perEpoch = [];
    for (let e = 0; e < epochs; e++) {
      const t0 = performance.now();
      for await (const batch of loader) dispose(batch);
      perEpoch.push(dataset.length / ((performance.now() - t0) / 1000));
    }
    await loader.close();
    // Epoch 0 includes starting the worker threads; the later ones are the steady state.
    const steady = perEpoch.length > 1 ? perEpoch.slice(1) : perEpoch;
    // The median: shared machines stall single epochs now and then.
    const sorted = [...steady].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(
      `${transform ? "crop+flip" : "plain    "}  workers ${workers}  ${Math.round(median).toLocaleString("en")} images/s (median)` +
        `  (epochs: ${perEpoch.map((v) => Math.round(v)).join(", ")}; ${dataset.length} images)`,
    );
  }
}
