import { registerBackend } from "@tessera/core";
import { JsBackend } from "./backend.js";

export { JsBackend, JS_DTYPES, type JsBackendOptions } from "./backend.js";

/** Importing this package registers backend 'js'. */
registerBackend("js", () => new JsBackend(), 1);
