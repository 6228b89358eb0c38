// Regenerates the op × backend support table in docs/backends.md (between the support markers)
// from what each registered backend declares. Run with `pnpm docs:support` (builds first);
// `--check` exits 1 when the committed table is out of date instead of writing it.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  capabilities,
  FUSED_BACKWARD_KERNELS,
  FUSED_KERNELS,
  findBackend,
  listBackends,
  PRIMITIVE_KERNELS,
} from "@tessera/core";
import { registerBenchBackends } from "../dist/index.js";

const DOC = fileURLToPath(new URL("../../../docs/backends.md", import.meta.url));
const BEGIN = "<!-- support:begin -->";
const END = "<!-- support:end -->";

/** The conformance package's table when it is installed and has one, else ours from `capabilities()`. */
async function conformanceTable(backends) {
  try {
    const mod = await import("@tessera/conformance");
    if (typeof mod.supportTable === "function") return await mod.supportTable(backends);
  } catch {
    // Not built or not a dependency yet: fall through to the table below.
  }
  return undefined;
}

function capabilityTable(backends) {
  const caps = backends.map((b) => capabilities(b));
  const head = `| kernel | kind | ${backends.map((b) => b.name).join(" | ")} |`;
  const rule = `| --- | --- | ${backends.map(() => "---").join(" | ")} |`;
  const rows = [
    ...PRIMITIVE_KERNELS.map((k) => `| \`${k}\` | primitive | ${backends.map(() => "✓").join(" | ")} |`),
    ...[
      ...FUSED_KERNELS.map((k) => [k, "fused"]),
      ...FUSED_BACKWARD_KERNELS.map((k) => [k, "fused backward"]),
    ].map(
      ([k, kind]) =>
        `| \`${k}\` | ${kind} | ${caps.map((c) => (c.fused.includes(k) ? "fused" : "composite")).join(" | ")} |`,
    ),
    `| dtypes | | ${caps.map((c) => c.dtypes.join(", ")).join(" | ")} |`,
  ];
  return [
    head,
    rule,
    ...rows,
    "",
    "✓ required of every backend · fused: the backend's own kernel · composite: core's fallback built from primitives",
  ].join("\n");
}

await registerBenchBackends();
const backends = [];
for (const name of listBackends()) {
  try {
    backends.push(findBackend(name));
  } catch (e) {
    console.warn(`support-table: skipping ${name}: ${e instanceof Error ? e.message : e}`);
  }
}
const fromConformance = await conformanceTable(backends);
const table = fromConformance
  ? `${fromConformance.trim()}\n\nEvery backend implements all ${PRIMITIVE_KERNELS.length} primitives (${PRIMITIVE_KERNELS.map((k) => `\`${k}\``).join(", ")}). fused: the backend's own kernel; composite: core's fallback built from primitives (for a \`…Backward\` kernel, autograd's gradient rule written with core ops).`
  : capabilityTable(backends);

const doc = readFileSync(DOC, "utf8");
const start = doc.indexOf(BEGIN);
const end = doc.indexOf(END);
if (start < 0 || end < start) throw new Error(`support-table: ${DOC} has no ${BEGIN} … ${END} section`);
const next = `${doc.slice(0, start + BEGIN.length)}\n${table.trim()}\n${doc.slice(end)}`;
if (process.argv.includes("--check")) {
  if (next !== doc) {
    console.error("support-table: docs/backends.md is out of date; run `pnpm docs:support`");
    process.exit(1);
  }
  console.log("support-table: docs/backends.md is up to date");
} else {
  writeFileSync(DOC, next);
  console.log(`support-table: wrote ${backends.length} backends into docs/backends.md`);
}
