/**
 * @tessera/models: the model zoo. Every model has PyTorch's (or timm's) state-dict keys, so
 * checkpoints load without renaming, and returns its attention maps on request.
 */
export * from "./attention-tools.js";
export * from "./autoencoder.js";
export * from "./autoencoder-lstm.js";
export * from "./blocks.js";
export * from "./dense-heads.js";
export * from "./masked-autoencoder.js";
export * from "./memory.js";
export * from "./mini-vit.js";
export * from "./pretrained.js";
export * from "./text-classifier.js";
export * from "./transformer-cnn.js";
export * from "./vit.js";
export * from "./vit-vae.js";
