/** The built-in case catalogue, one module per kernel, in the order reports list them. */
import type { ConformanceCase } from "../types.js";
import { cases as adam } from "./adam.js";
import { cases as adaptiveAvgPool2d } from "./adaptive-avg-pool2d.js";
import { cases as attention } from "./attention.js";
import { cases as avgPool2d } from "./avg-pool2d.js";
import { cases as binary } from "./binary.js";
import { cases as cast } from "./cast.js";
import { cases as convTranspose2d } from "./conv-transpose2d.js";
import { cases as conv2d } from "./conv2d.js";
import { cases as copy } from "./copy.js";
import { cases as crossEntropy } from "./cross-entropy.js";
import { cases as fill } from "./fill.js";
import { cases as gather } from "./gather.js";
import { cases as gelu } from "./gelu.js";
import { cases as interpolate } from "./interpolate.js";
import { cases as layerNorm } from "./layer-norm.js";
import { cases as logSoftmax } from "./log-softmax.js";
import { cases as manipulation } from "./manipulation.js";
import { cases as matmul } from "./matmul.js";
import { cases as maxPool2d } from "./max-pool2d.js";
import { cases as random } from "./random.js";
import { cases as reduce } from "./reduce.js";
import { cases as scatterAdd } from "./scatter-add.js";
import { cases as softmax } from "./softmax.js";
import { cases as unary } from "./unary.js";
import { cases as where } from "./where.js";

export const CATALOGUE: readonly ConformanceCase[] = [
  ...copy,
  ...cast,
  ...fill,
  ...random,
  ...unary,
  ...binary,
  ...where,
  ...reduce,
  ...matmul,
  ...gather,
  ...scatterAdd,
  ...softmax,
  ...logSoftmax,
  ...layerNorm,
  ...gelu,
  ...conv2d,
  ...convTranspose2d,
  ...maxPool2d,
  ...avgPool2d,
  ...adaptiveAvgPool2d,
  ...attention,
  ...interpolate,
  ...crossEntropy,
  ...adam,
  ...manipulation,
];
