/**
 * Optimizer: the base of SGD, Adam and AdamW (PyTorch's `torch.optim.Optimizer`). It holds the
 * parameter groups (each with its own hyperparameters, which schedulers change between steps), the
 * per-parameter state (step count and buffers such as Adam's moments), `zeroGrad`, and a state dict
 * that a safetensors checkpoint can hold: tensors by key plus a JSON-able `meta`.
 */
import "@tessera/autograd";
import { noGrad } from "@tessera/autograd";
import { assign, empty, fmtShape, isFloating, keep, shapesEqual, Tensor, tidy } from "@tessera/core";

/** What every parameter group carries; optimizers add their own hyperparameters. */
export interface ParamGroupBase {
  /** The group's parameters, in order (their index across groups identifies them in state dicts). */
  params: Tensor[];
  /** The learning rate; schedulers set it between steps. */
  lr: number;
  /** The learning rate a scheduler found when it was created (torch's `initial_lr`), set by the first scheduler. */
  initialLr?: number;
}

/** A parameter group of an optimizer with hyperparameters `H`. */
export type ParamGroup<H> = ParamGroupBase & H;

/** A parameter group as given to a constructor: parameters plus overrides of the optimizer's defaults. */
export type ParamGroupInput<H> = { params: Iterable<Tensor> } & Partial<H>;

/** Parameters (e.g. `model.parameters()`) or a list of parameter groups, like torch. */
export type OptimizerParams<H> = Iterable<Tensor> | Iterable<ParamGroupInput<H>>;

/** A JSON value (what `meta` holds). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * An optimizer's state, ready for a checkpoint. `tensors` holds the state buffers under
 * `state.<paramIndex>.<name>` (torch's names: `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`,
 * `momentum_buffer`), where `paramIndex` counts parameters across groups in order, like torch.
 * `meta` is JSON: `{ format, optimizer, state: { "<paramIndex>": { step } }, paramGroups: [{ ...hyperparameters,
 * params: [paramIndex, …] }] }`. `stateDict()` returns the optimizer's own tensors (not copies), like
 * `Module.stateDict()`: write them out before the next step and do not dispose them.
 */
export interface OptimizerStateDict {
  tensors: Map<string, Tensor>;
  meta: OptimizerMeta;
}

export interface OptimizerMeta {
  format: "tessera-optimizer-v1";
  /** The class that wrote it (`SGD`, `Adam`, `AdamW`); loading into another class is an error. */
  optimizer: string;
  /** Per-parameter counters, by parameter index; parameters that never had a gradient are absent. */
  state: Record<string, { step: number }>;
  paramGroups: Array<{ params: number[]; [hyperparameter: string]: JsonValue }>;
}

/** What `loadStateDict` accepts: a state dict, with the tensors as a Map or a plain object. */
export interface OptimizerStateDictInput {
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;
  meta: OptimizerMeta;
}

/** One parameter's state: the number of updates it received and its buffers by name. */
export interface ParamState {
  step: number;
  tensors: Record<string, Tensor>;
}

const STATE_KEY = /^state\.(\d+)\.(.+)$/;

/**
 * The base class of optimizers. Subclasses give the default hyperparameters, check a group's
 * values and implement `updateParam` (one parameter, in place); the base runs it for every
 * parameter that has a gradient, under `noGrad` and `tidy`, so a step leaves no tensors behind.
 *
 * @example
 * import { Linear, SGD } from "@tessera/nn";
 * import { randn } from "@tessera/core";
 *
 * const net = new Linear(4, 2);
 * const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
 * opt.zeroGrad();
 * const y = net.forward(randn([8, 4]));
 * y.mul(y).mean().backward();
 * opt.step();
 * opt.paramGroups[0].lr = 0.01; // what a scheduler does
 */
export abstract class Optimizer<H extends { lr: number }> {
  /** The parameter groups; change a group's hyperparameters (e.g. `lr`) between steps. */
  readonly paramGroups: ParamGroup<H>[] = [];
  /** The hyperparameters a group gets when it does not override them. */
  readonly defaults: Readonly<H>;
  /** Per-parameter state, created at a parameter's first update. */
  protected readonly state = new Map<Tensor, ParamState>();
  /** The names of the state buffers this optimizer keeps (checked by `loadStateDict`). */
  protected abstract readonly stateKeys: readonly string[];

  constructor(params: OptimizerParams<H>, defaults: H) {
    this.defaults = Object.freeze({ ...defaults });
    const list = [...(params as Iterable<Tensor | ParamGroupInput<H>>)];
    if (list.length === 0) throw new Error(`${this.typeName}: got an empty parameter list`);
    if (list.every((x) => x instanceof Tensor)) {
      this.addParamGroup({ params: list as Tensor[] } as unknown as ParamGroupInput<H>);
    } else {
      for (const g of list) {
        if (g instanceof Tensor || typeof g !== "object" || g === null || !("params" in g)) {
          throw new TypeError(
            `${this.typeName}: params must be tensors or parameter groups ({ params, ...options }), not a mix`,
          );
        }
        this.addParamGroup(g);
      }
    }
  }

  /** The class name used in messages. */
  get typeName(): string {
    return this.constructor.name;
  }

  /** Checks a group's hyperparameters (called for every group added); throws naming the bad value. */
  protected abstract checkGroup(group: ParamGroup<H>, index: number): void;

  /** Updates `param` in place from `grad` (never null). Runs under `noGrad` and inside a `tidy`. */
  protected abstract updateParam(param: Tensor, grad: Tensor, group: ParamGroup<H>, state: ParamState): void;

  /**
   * Adds a parameter group (torch's `add_param_group`), filling in the defaults. A parameter may
   * belong to only one group.
   */
  addParamGroup(group: ParamGroupInput<H>): void {
    const index = this.paramGroups.length;
    const where = `${this.typeName}: parameter group ${index}`;
    if (group.params instanceof Tensor) {
      throw new TypeError(`${where}: params must be a list of tensors, got a single tensor (wrap it in [])`);
    }
    const params = [...group.params];
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) for (const p of g.params) seen.add(p);
    params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new TypeError(`${where}: params[${i}] is not a Tensor`);
      if (!isFloating(p.dtype)) {
        throw new TypeError(
          `${where}: params[${i}] must be floating point, got ${p.dtype} ${fmtShape(p.shape)}`,
        );
      }
      if (!p.isLeaf) throw new Error(`${where}: params[${i}] is not a leaf tensor and cannot be optimized`);
      if (seen.has(p)) {
        throw new Error(
          `${where}: params[${i}] ${fmtShape(p.shape)} appears in more than one parameter group`,
        );
      }
      seen.add(p);
    });
    // Arrays (Adam's betas) are copied so that groups never share one.
    const merged: Record<string, unknown> = {};
    for (const src of [this.defaults, group] as Record<string, unknown>[]) {
      for (const [k, v] of Object.entries(src))
        if (v !== undefined) merged[k] = Array.isArray(v) ? [...v] : v;
    }
    merged.params = params;
    const full = merged as unknown as ParamGroup<H>;
    this.checkGroup(full, index);
    this.paramGroups.push(full);
  }

  /** Sets every parameter's gradient to null (torch's `zero_grad(set_to_none=True)`, the default from torch 2.0). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) if (p.grad) p.grad = null;
  }

  /** One update of every parameter that has a gradient; parameters whose `grad` is null are skipped. */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          const g = p.grad;
          if (!g) continue;
          if (!shapesEqual(g.shape, p.shape)) {
            throw new RangeError(
              `${this.typeName}.step: a gradient of shape ${fmtShape(g.shape)} for a parameter of shape ${fmtShape(p.shape)}`,
            );
          }
          let s = this.state.get(p);
          if (!s) {
            s = { step: 0, tensors: {} };
            this.state.set(p, s);
          }
          const state = s;
          tidy(() => this.updateParam(p, g, group, state));
        }
      }
    });
  }

  /** A state buffer, kept out of `tidy` scopes; the optimizer owns it. */
  protected newStateTensor(state: ParamState, name: string, t: Tensor): Tensor {
    state.tensors[name] = keep(t);
    return t;
  }

  /** The optimizer's state for a checkpoint; the format is described at `OptimizerStateDict`. */
  stateDict(): OptimizerStateDict {
    const tensors = new Map<string, Tensor>();
    const state: OptimizerMeta["state"] = {};
    const paramGroups: OptimizerMeta["paramGroups"] = [];
    let i = 0;
    for (const group of this.paramGroups) {
      const indices: number[] = [];
      for (const p of group.params) {
        const s = this.state.get(p);
        if (s) {
          state[String(i)] = { step: s.step };
          for (const [name, t] of Object.entries(s.tensors)) tensors.set(`state.${i}.${name}`, t);
        }
        indices.push(i++);
      }
      const { params: _params, ...hyper } = group;
      paramGroups.push({
        ...(JSON.parse(JSON.stringify(hyper)) as Record<string, JsonValue>),
        params: indices,
      });
    }
    return {
      tensors,
      meta: { format: "tessera-optimizer-v1", optimizer: this.typeName, state, paramGroups },
    };
  }

  /**
   * Restores a state dict written by `stateDict()` of the same optimizer class over parameters of the
   * same shapes, grouped the same way: hyperparameters of every group are replaced by the saved ones
   * and the state buffers are copied (converted to each parameter's dtype and backend), so `sd` can
   * be disposed afterwards. Nothing changes unless every check passes.
   */
  loadStateDict(sd: OptimizerStateDictInput): void {
    const op = `${this.typeName}.loadStateDict`;
    const { meta } = sd;
    const tensors: ReadonlyMap<string, Tensor> =
      sd.tensors instanceof Map ? sd.tensors : new Map(Object.entries(sd.tensors));
    if (meta?.format !== "tessera-optimizer-v1") {
      throw new Error(
        `${op}: meta.format is ${JSON.stringify(meta?.format)}, expected "tessera-optimizer-v1"`,
      );
    }
    if (meta.optimizer !== this.typeName) {
      throw new Error(`${op}: the state dict was written by ${meta.optimizer}, not ${this.typeName}`);
    }
    if (meta.paramGroups.length !== this.paramGroups.length) {
      throw new Error(
        `${op}: the state dict has ${meta.paramGroups.length} parameter groups, the optimizer ${this.paramGroups.length}`,
      );
    }
    const flat: Tensor[] = [];
    this.paramGroups.forEach((g, gi) => {
      const saved = meta.paramGroups[gi]!;
      if (saved.params.length !== g.params.length) {
        throw new Error(
          `${op}: parameter group ${gi} has ${saved.params.length} parameters in the state dict and ${g.params.length} in the optimizer`,
        );
      }
      for (const p of g.params) flat.push(p);
    });
    // Check everything first: indices, names and shapes.
    const next = new Map<Tensor, { step: number; sources: [string, Tensor][] }>();
    for (const [key, s] of Object.entries(meta.state)) {
      const i = Number(key);
      const p = flat[i];
      if (!Number.isInteger(i) || !p) {
        throw new Error(`${op}: state for parameter ${key}, but the optimizer has ${flat.length} parameters`);
      }
      if (!Number.isInteger(s.step) || s.step < 0) {
        throw new Error(`${op}: state.${key}.step must be a non-negative integer, got ${s.step}`);
      }
      next.set(p, { step: s.step, sources: [] });
    }
    for (const [key, t] of tensors) {
      const m = STATE_KEY.exec(key);
      const p = m ? flat[Number(m[1])] : undefined;
      const entry = p ? next.get(p) : undefined;
      if (!m || !p || !entry) {
        throw new Error(`${op}: unexpected tensor '${key}' (no such parameter state in meta.state)`);
      }
      if (!this.stateKeys.includes(m[2]!)) {
        throw new Error(
          `${op}: unexpected tensor '${key}': ${this.typeName} keeps ${this.stateKeys.join(", ")}`,
        );
      }
      if (!shapesEqual(t.shape, p.shape)) {
        throw new RangeError(
          `${op}: '${key}' has shape ${fmtShape(t.shape)} in the state dict and the parameter ${fmtShape(p.shape)}`,
        );
      }
      entry.sources.push([m[2]!, t]);
    }
    // Commit.
    for (const s of this.state.values()) for (const t of Object.values(s.tensors)) t.dispose();
    this.state.clear();
    for (const [p, { step, sources }] of next) {
      const state: ParamState = { step, tensors: {} };
      for (const [name, src] of sources) {
        const moved = src.backendName === p.backendName ? src : src.to(p.backendName);
        const t = empty(p.shape, { dtype: p.dtype, backend: p.backendName });
        assign(t, moved);
        if (moved !== src) moved.dispose();
        state.tensors[name] = keep(t);
      }
      this.state.set(p, state);
    }
    this.paramGroups.forEach((g, gi) => {
      const { params: _params, ...hyper } = meta.paramGroups[gi]!;
      Object.assign(g, JSON.parse(JSON.stringify(hyper)));
    });
  }

  /** Frees the state buffers (the parameters belong to their modules). */
  dispose(): void {
    for (const s of this.state.values()) for (const t of Object.values(s.tensors)) t.dispose();
    this.state.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Throws a RangeError naming the optimizer, group and hyperparameter unless `ok`. */
  protected checkHyper(ok: boolean, index: number, name: string, value: unknown, want: string): void {
    if (!ok) {
      throw new RangeError(
        `${this.typeName}: parameter group ${index}: ${name} must be ${want}, got ${JSON.stringify(value)}`,
      );
    }
  }
}
