/**
 * Grad mode: whether ops record a graph. Kept in AsyncLocalStorage so `noGrad(async () => …)`
 * covers exactly its own async continuation, as `scope` does for memory.
 */
import { AsyncLocalStorage } from "node:async_hooks";

interface GradMode {
  enabled: boolean;
}

const store = new AsyncLocalStorage<GradMode>();
const global: GradMode = { enabled: true };

/** True when ops record gradients (the default). */
export function isGradEnabled(): boolean {
  return (store.getStore() ?? global).enabled;
}

/** Turns recording on or off for the current context (the innermost noGrad/enableGrad, else globally). */
export function setGradEnabled(enabled: boolean): void {
  (store.getStore() ?? global).enabled = enabled;
}

function withMode<T>(enabled: boolean, fn: () => T): T {
  return store.run({ enabled }, fn);
}

/** Runs `fn` (sync or async) without recording: results do not require grad (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withMode(false, fn);
}

/** Runs `fn` with recording on, even inside `noGrad` (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return withMode(true, fn);
}
