/**
 * Core's public ops, looked up by name. The catalogue is data about core's op set, which grows while
 * backends are written against it: a case lists the exports it uses, and one whose op core does not
 * export yet is reported `unavailable` instead of failing to compile or to run.
 */
import * as core from "@tessera/core";

// biome-ignore lint/suspicious/noExplicitAny: ops are called with the argument lists each case documents.
export type OpFn = (...args: any[]) => any;

const exports = core as unknown as Record<string, unknown>;

export function hasOp(name: string): boolean {
  return typeof exports[name] === "function";
}

/** `ops.softmax(x, -1)`: the public core export of that name; throws a clear error if it is missing. */
export const ops: Record<string, OpFn> = new Proxy({} as Record<string, OpFn>, {
  get(_target, name) {
    const fn = exports[String(name)];
    if (typeof fn !== "function") throw new Error(`@tessera/core does not export '${String(name)}'`);
    return fn as OpFn;
  },
});
