import type { Task } from "./types.js";

/** Placeholder until the task lands. */
export const textTask: Task = {
  name: "text",
  description: "(not implemented yet)",
  defaults: { epochs: 1, batchSize: 1, lr: 1e-3 },
  presets: [],
  loadData: () => Promise.reject(new Error("text: not implemented yet")),
  createModel: () => {
    throw new Error("text: not implemented yet");
  },
  collate: () => ({}),
  trainStep: () => {
    throw new Error("text: not implemented yet");
  },
  evalStep: () => {
    throw new Error("text: not implemented yet");
  },
};
