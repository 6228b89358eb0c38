/**
 * Which compute backend a command runs on. Importing the backend packages registers what can run
 * here (native only when its addon loaded); `--backend` picks one, and without it the fastest
 * available is chosen and said out loud, with the reason any faster one is missing.
 */
import "@tessera/backend-js";
import "@tessera/backend-native";
import { cudaStatus, nativeStatus } from "@tessera/backend-native";
import { findBackend, listBackends, setBackend } from "@tessera/core";
import { CliError } from "./errors.js";

/** The backends the CLI knows, fastest first. */
export const BACKEND_NAMES = ["cuda", "native", "js"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Whether one backend can run here, and why not. */
export interface BackendAvailability {
  name: BackendName;
  available: boolean;
  /** A short description when available (`cpu, 2 threads`), the reason when not. */
  detail: string;
}

/**
 * Every backend the CLI knows with its availability.
 *
 * @example
 * for (const b of backendAvailability()) console.log(b.name, b.available, b.detail);
 */
export function backendAvailability(): BackendAvailability[] {
  const registered = new Set(listBackends());
  return BACKEND_NAMES.map((name): BackendAvailability => {
    if (name === "cuda") {
      const c = cudaStatus();
      if (!c.available || !registered.has("cuda")) {
        return { name, available: false, detail: c.reason ?? "the cuda device is not registered" };
      }
      const gib = ((c.info?.totalMemory ?? 0) / 2 ** 30).toFixed(0);
      return {
        name,
        available: true,
        detail: `${c.info?.deviceName ?? "GPU"}, compute ${c.info?.computeCapability ?? "?"}, ${gib} GiB`,
      };
    }
    if (name === "native") {
      const s = nativeStatus();
      if (!s.available || !registered.has("native")) {
        return { name, available: false, detail: s.reason ?? "the native addon is not registered" };
      }
      const threads = s.info?.threads ?? 1;
      return {
        name,
        available: true,
        detail: `cpu, ${threads} thread${threads === 1 ? "" : "s"}${s.info ? `, ${s.info.isa}` : ""}`,
      };
    }
    return { name, available: registered.has(name), detail: "cpu, plain JavaScript, single thread" };
  });
}

/**
 * Activates the requested backend (or the fastest available one) and returns its name with the line
 * to print, e.g. `backend: native (cpu, 2 threads) — the fastest available; cuda: unavailable (…)`.
 * An unavailable or unknown backend is a `CliError` saying why and what to do.
 *
 * @example
 * const { name, message } = selectBackend("js"); // "backend: js (cpu, plain JavaScript, single thread) — as asked"
 */
export function selectBackend(requested?: string): { name: BackendName; message: string } {
  const all = backendAvailability();
  if (requested !== undefined) {
    const b = all.find((x) => x.name === requested);
    if (!b) {
      throw new CliError(
        `unknown backend '${requested}'`,
        `choose one of: ${BACKEND_NAMES.join(", ")} (\`tessera info\` lists what is available here)`,
      );
    }
    if (!b.available) {
      const alternatives = all.filter((x) => x.available).map((x) => x.name);
      throw new CliError(
        `backend '${requested}' is unavailable: ${b.detail}`,
        `use --backend ${alternatives[0] ?? "js"}${requested === "native" ? ", or build the addon: pnpm --filter @tessera/backend-native build:addon" : ""}`,
      );
    }
    setBackend(b.name);
    findBackend(b.name);
    return { name: b.name, message: `backend: ${b.name} (${b.detail}) — as asked` };
  }
  // cuda is chosen only when asked for: its kernels have not yet been through a GPU conformance run
  // (docs/cuda.md), so an unverified device is never picked behind a user's back.
  const best = all.find((x) => x.available && x.name !== "cuda");
  if (!best) throw new CliError("no backend is available", "reinstall @tessera/backend-js");
  setBackend(best.name);
  const faster = all
    .slice(0, all.indexOf(best))
    .map((x) =>
      x.available
        ? `${x.name}: available (${x.detail}), used with --backend ${x.name}`
        : `${x.name}: unavailable (${x.detail})`,
    )
    .join("; ");
  return {
    name: best.name,
    message: `backend: ${best.name} (${best.detail}) — the fastest available${faster ? `; ${faster}` : ""}`,
  };
}
