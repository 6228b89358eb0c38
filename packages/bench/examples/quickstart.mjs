// Quickstart: tensors, ops, memory scopes and backends. Run from the repository root with `pnpm quickstart`.
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

// Gradients: importing @tessera/autograd records ops on tensors that require grad.
const { noGrad } = await import("@tessera/autograd");
const { linear, mseLoss, sub } = await import("@tessera/core");
manualSeed(1);
const xs = randn([64, 3]);
const ys = tidy(() => matmul(xs, tensor([[2], [-1], [0.5]])).add(0.3)); // y = 2a − b + 0.5c + 0.3
let wt = randn([1, 3]).requiresGrad_();
let bias = tensor([0]).requiresGrad_();
for (let step = 0; step < 200; step++) {
  const loss = tidy(() => mseLoss(linear(xs, wt, bias), ys));
  loss.backward(); // fills wt.grad and bias.grad
  if (step % 50 === 0) console.log(`step ${step}: loss ${(await loss.item()).toFixed(5)}`);
  // Plain SGD, unrecorded: new leaves replace the old ones.
  const [nw, nb] = noGrad(() => tidy(() => [sub(wt, wt.grad.mul(0.1)), sub(bias, bias.grad.mul(0.1))]));
  for (const t of [loss, wt, bias]) t.dispose();
  wt = nw.requiresGrad_();
  bias = nb.requiresGrad_();
}
console.log("learned weight", await wt.array(), "bias", await bias.array());
for (const t of [xs, ys, wt, bias]) t.dispose();
console.log("live tensors at the end:", memory().numTensors);
