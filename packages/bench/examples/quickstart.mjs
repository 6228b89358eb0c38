// Quickstart: tensors, ops, memory scopes and backends. Run from the repository root with `pnpm example`.
import "@tessera/backend-js"; // importing a backend package registers it: 'js'
import { manualSeed, matmul, memory, randn, setBackend, softmax, tensor, tidy } from "@tessera/core";

setBackend("js");
manualSeed(0); // one counter-based RNG: the same seed gives the same numbers on every backend

const x = tensor([
  [1, 2, 3],
  [4, 5, 6],
]); // [2,3] float32
const w = randn([3, 4]);
// tidy frees every intermediate created inside; only the returned tensor survives.
const probs = tidy(() => softmax(matmul(x, w).relu(), -1)); // [2,4], rows sum to 1
console.log("probs =", await probs.array()); // reads are async: nothing blocks the event loop

const xt = x.transpose(0, 1); // a view: shares x's storage, no copy
console.log("xt.shape =", xt.shape, "| live tensors:", memory().numTensors);
for (const t of [x, w, probs, xt]) t.dispose();
console.log("after dispose:", memory().numTensors, "live tensors");
