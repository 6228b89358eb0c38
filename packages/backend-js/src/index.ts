import { registerBackend } from "@tessera/core";
import { JsBackend } from "./backend.js";

export { createJsBackend, JS_DTYPES, JsBackend, type JsBackendOptions } from "./backend.js";

/** Importing this package registers backend 'js' with every fused kernel. */
registerBackend("js", () => new JsBackend(), 1);
