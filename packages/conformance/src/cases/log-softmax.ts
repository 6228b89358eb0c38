/** Fused `logSoftmax` (or core's composite): the softmax samples, compared in log space. */
import { softmaxCases } from "./softmax.js";

export const cases = softmaxCases("logSoftmax", "logSoftmax");
