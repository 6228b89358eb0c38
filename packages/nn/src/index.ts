/**
 * @tessera/nn: Module, layers, losses, optimizers, LR schedulers, initialisers and safetensors
 * checkpoints. Modules register their tensors under PyTorch's names, so state-dict keys equal
 * PyTorch's and checkpoints move between the two without renaming.
 */
export * from "./activation.js";
export * from "./adam.js";
export * from "./amp.js";
export * from "./attention.js";
export * from "./clip-grad.js";
export * from "./containers.js";
export * from "./conv.js";
export * from "./dropout.js";
export * from "./embedding.js";
export * from "./flatten.js";
export * as init from "./init.js";
export * from "./linear.js";
export * from "./loss.js";
export * from "./lr-scheduler.js";
export * from "./module.js";
export * from "./normalization.js";
export * from "./optimizer.js";
export * from "./pooling.js";
export * from "./positional.js";
export * from "./recurrent.js";
export * from "./safetensors.js";
export * from "./serialization.js";
export * from "./sgd.js";
export * from "./transformer.js";
export * from "./upsample.js";
