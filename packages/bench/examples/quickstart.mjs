// Quickstart: tensors, ops, memory scopes and backends. Run from the repository root with `pnpm example`.
import "@tessera/backend-js"; // importing a backend package registers it ('js')
import { manualSeed, memory, randn, setBackend, tensor, tidy } from "@tessera/core";

setBackend("js");
manualSeed(0); // same seed, same numbers, on every backend

const x = tensor([
  [1, 2, 3],
  [4, 5, 6],
]); // [2,3] float32
const w = randn([2, 3]);
// tidy frees every intermediate it created; only the returned tensor survives.
const y = tidy(() => x.mul(w).add(1).relu());
console.log("y =", await y.array());

x.dispose();
w.dispose();
y.dispose();
console.log("live tensors after dispose:", memory().numTensors);
