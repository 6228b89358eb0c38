/**
 * Pretrained weights and transfer learning for VisionTransformer (the seed's
 * `vit_b16(include_top=False)` + a new head).
 *
 *   file (timm keys) → tensors → pos_embed [1,1+h₀·w₀,D] resampled to the model's grid [1,1+h·w,D]
 *     → head kept, or reset when the class count differs → loadStateDict(strict) → freezeBackbone
 */
import { noGrad } from "@tessera/autograd";
import type { Tensor } from "@tessera/core";
import { load, resamplePositionEmbedding } from "@tessera/nn";
import type { VisionTransformer } from "./vit.js";

export interface LoadPretrainedOptions {
  /** The class count wanted; when it differs from the model's the head is replaced (fresh weights) first. */
  numClasses?: number;
  /**
   * The patch grid [h, w] the checkpoint's position embedding was trained on. Default: from the file's
   * `img_size` and `patch_size` metadata, else the model's grid when the token counts agree, else a
   * square grid when the count is a square; anything else is an error asking for this option.
   */
  sourceGrid?: readonly [number, number];
  /** Throw on keys of the file the model does not have (default true); head keys are never an error. */
  strict?: boolean;
}

export interface LoadPretrainedReport {
  /** Keys loaded from the file (after resampling). */
  loadedKeys: string[];
  /** Head keys that kept fresh weights: the class count differs from the file's (or the file has none). */
  resetKeys: string[];
  /** The resampled position embedding, when the grids differed. */
  resampled: { key: string; fromGrid: [number, number]; toGrid: [number, number] } | null;
  /** File keys the model has no place for (only when strict is false), and file head keys not used. */
  unexpectedKeys: string[];
  /** The file's `__metadata__` (undefined for a state dict). */
  metadata: Record<string, string> | undefined;
}

function sourceGridOf(
  model: VisionTransformer,
  tokens: number,
  opts: LoadPretrainedOptions,
  metadata: Record<string, string> | undefined,
): [number, number] {
  if (opts.sourceGrid) return [opts.sourceGrid[0], opts.sourceGrid[1]];
  if (metadata?.img_size && metadata.patch_size) {
    const img = JSON.parse(metadata.img_size) as number | [number, number];
    const [h, w] = typeof img === "number" ? [img, img] : img;
    const p = Number(metadata.patch_size);
    return [Math.floor(h / p), Math.floor(w / p)];
  }
  if (tokens === model.grid[0] * model.grid[1]) return [model.grid[0], model.grid[1]];
  const side = Math.round(Math.sqrt(tokens));
  if (side * side === tokens) return [side, side];
  throw new RangeError(
    `loadPretrained: the checkpoint's ${model.posEmbedKey} has ${tokens} patch positions, which is not a square grid; pass sourceGrid: [h, w]`,
  );
}

/**
 * Loads a timm-format checkpoint (a safetensors path, or a state dict you own) into `model`: the
 * position embedding is resampled when the grids differ, and the head is replaced by a fresh one
 * when `numClasses` (or the model's class count) differs from the file's. Returns what was done.
 *
 * @example
 * const vit = vitPreset("vit_b16", { numClasses: 3, imgSize: 384 });
 * const report = await loadPretrained(vit, "vit_base_patch16_224.safetensors", { numClasses: 3 });
 * report.resetKeys;  // ["head.weight", "head.bias"]
 * report.resampled;  // { key: "pos_embed", fromGrid: [14, 14], toGrid: [24, 24] }
 * freezeBackbone(vit); // now train only the head
 */
export async function loadPretrained(
  model: VisionTransformer,
  source: string | ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  opts: LoadPretrainedOptions = {},
): Promise<LoadPretrainedReport> {
  let file: Map<string, Tensor>;
  let metadata: Record<string, string> | undefined;
  let owned: Tensor[] = [];
  if (typeof source === "string") {
    const r = await load(source, { backend: model.posEmbed.backendName, float64: false });
    file = r.tensors;
    metadata = r.metadata;
    owned = [...file.values()];
  } else file = new Map(source instanceof Map ? source : Object.entries(source));
  try {
    if (opts.numClasses !== undefined && opts.numClasses !== model.numClasses)
      model.resetClassifier(opts.numClasses);
    const target = model.stateDict();
    const headPrefix = model.config.layout === "seed" ? "mlp_head.1." : "head.";
    const sd = new Map<string, Tensor>();
    const report: LoadPretrainedReport = {
      loadedKeys: [],
      resetKeys: [],
      resampled: null,
      unexpectedKeys: [],
      metadata,
    };
    for (const [key, t] of file) {
      const want = target.get(key);
      if (key.startsWith(headPrefix)) {
        if (want && want.shape.join() === t.shape.join()) sd.set(key, t);
        else report.unexpectedKeys.push(key);
      } else if (!want) {
        if (opts.strict ?? true)
          throw new Error(
            `loadPretrained: the checkpoint has '${key}' [${t.shape.join(", ")}], which the ${model.config.layout}-layout model lacks (pass strict: false to skip it)`,
          );
        report.unexpectedKeys.push(key);
      } else if (key === model.posEmbedKey && t.shape[1] !== want.shape[1]) {
        const fromGrid = sourceGridOf(model, t.shape[1]! - 1, opts, metadata);
        const toGrid: [number, number] = [model.grid[0], model.grid[1]];
        const r = noGrad(() =>
          resamplePositionEmbedding(t.cast("float32"), fromGrid, toGrid, { numPrefixTokens: 1 }),
        );
        owned.push(r);
        sd.set(key, r);
        report.resampled = { key, fromGrid, toGrid };
      } else sd.set(key, t);
    }
    for (const key of model.headKeys) if (!sd.has(key)) report.resetKeys.push(key);
    // Strict over the rest: a missing backbone key or a shape mismatch throws, naming the key and shapes.
    const { missingKeys } = model.loadStateDict(sd, { strict: false });
    const missing = missingKeys.filter((k) => !report.resetKeys.includes(k));
    if (missing.length > 0)
      throw new Error(
        `loadPretrained: the checkpoint lacks ${missing.length} key(s) of the model: ${missing.join(", ")}`,
      );
    report.loadedKeys = [...sd.keys()];
    return report;
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * Freezes everything but the classifier (`head`, or `mlp_head` in seed layout): those parameters no
 * longer require gradients, so backward skips the backbone and optimizers leave it unchanged.
 * Returns the keys that stay trainable.
 *
 * @example
 * freezeBackbone(vit); // ["head.weight", "head.bias"]
 * const opt = new AdamW([...vit.parameters()].filter((p) => p.requiresGrad), { lr: 1e-3 });
 */
export function freezeBackbone(model: VisionTransformer): string[] {
  model.requiresGrad_(false);
  model.headModule.requiresGrad_(true);
  const trainable: string[] = [];
  for (const [key, p] of model.namedParameters()) {
    if (p.requiresGrad) trainable.push(key);
    else p.grad = null;
  }
  return trainable;
}
