/** The op × backend support table, generated from what each backend declares (`capabilities`). */
import { ALL_FUSED_KERNELS, type Backend, capabilities, DTYPES } from "@tessera/core";

/**
 * Markdown: one column per backend; a row per dtype (✓ declared, — not) and per fused kernel, forward
 * then backward (`fused` when the backend implements it, `composite` when core's fallback runs; for
 * a backward kernel the fallback is autograd's rule written with core ops).
 *
 * ```ts
 * supportTable([new JsBackend(), new JsBackend({ name: "js-primitives", fused: [] })]);
 * ```
 */
export function supportTable(backends: readonly Backend[]): string {
  const caps = backends.map((b) => ({ name: b.name, ...capabilities(b) }));
  const header = `| | ${caps.map((c) => `\`${c.name}\``).join(" | ")} |`;
  const rule = `|---|${caps.map(() => "---").join("|")}|`;
  const rows = [
    ...DTYPES.map(
      (d) => `| dtype \`${d}\` | ${caps.map((c) => (c.dtypes.includes(d) ? "✓" : "—")).join(" | ")} |`,
    ),
    ...ALL_FUSED_KERNELS.map(
      (k) => `| \`${k}\` | ${caps.map((c) => (c.fused.includes(k) ? "fused" : "composite")).join(" | ")} |`,
    ),
  ];
  return [header, rule, ...rows].join("\n");
}
