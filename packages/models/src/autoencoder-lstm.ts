/**
 * AutoencoderLSTM (reference `ViTLSTM`): the autoencoder's encoder embeds every frame, an LSTM
 * reads the sequence of latents, a Linear predicts from the last step (or from every step).
 *
 *   frames [B,T,1,H,W] → [B·T,1,H,W] → encoder → latents [B·T,D] → [B,T,D] → lstm → [B,T,hidden]
 *   → last step [B,hidden] → fc → [B,outputs]        (sequenceOutput: every step → [B,T,outputs])
 */
import { type Tensor, tidy } from "@tessera/core";
import { Linear, LSTM, Module } from "@tessera/nn";
import {
  AutoencoderEncoder,
  type TransformerAutoencoder,
  type TransformerAutoencoderOptions,
} from "./autoencoder.js";

export interface AutoencoderLSTMOptions extends TransformerAutoencoderOptions {
  /** LSTM hidden size (default 64). */
  hidden?: number;
  /** Stacked LSTM layers (default 1). */
  lstmLayers?: number;
  /** Values predicted per sequence (or per step); default 1. */
  outputs?: number;
  /** Predict at every step [B,T,outputs] instead of the last one [B,outputs]. Default false. */
  sequenceOutput?: boolean;
  /** A (trained) encoder to use instead of a new one; its sizes win over the options'. */
  encoder?: AutoencoderEncoder;
  /** Keep the encoder's parameters fixed (default: true when `encoder` is given, else false). */
  freezeEncoder?: boolean;
}

/**
 * Frame encoder → LSTM → Linear; keys `encoder.*` (as the autoencoder's), `lstm.*`, `fc.*`.
 *
 * @example
 * const m = new AutoencoderLSTM({ inputSize: 21, latent: 40, heads: 4, encoderLayers: 3, hidden: 24 });
 * m.forward(randn([2, 3, 1, 21, 21])); // [2, 1]
 * // the encoder of a (trained) autoencoder, frozen; one prediction per frame:
 * const ae = new TransformerAutoencoder({ inputSize: 21, latent: 40, heads: 4 });
 * const seq = AutoencoderLSTM.fromAutoencoder(ae, { hidden: 32, sequenceOutput: true });
 * seq.forward(randn([2, 3, 1, 21, 21])); // [2, 3, 1]
 */
export class AutoencoderLSTM extends Module {
  readonly encoder: AutoencoderEncoder;
  readonly lstm: LSTM;
  readonly fc: Linear;
  readonly sequenceOutput: boolean;

  constructor(opts: AutoencoderLSTMOptions = {}) {
    super();
    this.encoder = this.registerModule("encoder", opts.encoder ?? new AutoencoderEncoder(opts));
    if (opts.freezeEncoder ?? opts.encoder !== undefined) this.encoder.requiresGrad_(false);
    const hidden = opts.hidden ?? 64;
    const latent = this.encoder.config.latent;
    this.lstm = this.registerModule(
      "lstm",
      new LSTM(latent, hidden, {
        numLayers: opts.lstmLayers ?? 1,
        batchFirst: true,
        generator: opts.generator,
      }),
    );
    this.fc = this.registerModule("fc", new Linear(hidden, opts.outputs ?? 1, { generator: opts.generator }));
    this.sequenceOutput = opts.sequenceOutput ?? false;
  }

  /**
   * An AutoencoderLSTM on the encoder of `autoencoder` (shared, not copied: disposing either model
   * frees it), frozen unless `freezeEncoder: false`.
   */
  static fromAutoencoder(
    autoencoder: TransformerAutoencoder,
    opts: Omit<AutoencoderLSTMOptions, "encoder"> = {},
  ): AutoencoderLSTM {
    return new AutoencoderLSTM({ ...opts, encoder: autoencoder.encoder });
  }

  override forward(frames: Tensor): Tensor {
    const { tokenizer, inputSize } = this.encoder.config;
    const hw = tokenizer === "flat" ? inputSize.join(", ") : "H, W";
    const sizeOk =
      tokenizer === "patch" || (frames.shape[3] === inputSize[0] && frames.shape[4] === inputSize[1]);
    if (frames.rank !== 5 || frames.shape[2] !== 1 || !sizeOk) {
      throw new RangeError(
        `AutoencoderLSTM: frames must be [B, T, 1, ${hw}], got [${frames.shape.join(", ")}]`,
      );
    }
    const [b, t] = frames.shape as [number, number];
    return tidy(() => {
      const flat = frames.reshape([b * t, ...frames.shape.slice(2)]); // [B·T,1,H,W]
      const z = this.encoder.forward(flat).latent.reshape([b, t, -1]); // [B,T,D]
      const { output } = this.lstm.forward(z); // [B,T,hidden]
      return this.fc.forward(this.sequenceOutput ? output : output.select(1, t - 1)); // [B,T,k] or [B,k]
    });
  }
}
