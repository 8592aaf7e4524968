/**
 * A config as the source of a `railyard.config.ts` (pure): `defineConfig` around an object
 * literal, formatted as prettier would, with the import's warnings as comments on top.
 */
import type { UserConfig } from "../model/types.js";

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const WIDTH = 100;

function literal(v: unknown, indent: string): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v !== "object" || v === null) return String(v);
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    const items = v.map((x) => literal(x, inner));
    const flat = `[${items.join(", ")}]`;
    if (flat.length + indent.length < WIDTH - 20 && !flat.includes("\n")) return flat;
    return `[\n${items.map((x) => `${inner}${x},\n`).join("")}${indent}]`;
  }
  const entries = Object.entries(v).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return "{}";
  const body = entries
    .map(([k, x]) => `${inner}${IDENT.test(k) ? k : JSON.stringify(k)}: ${literal(x, inner)},\n`)
    .join("");
  return `{\n${body}${indent}}`;
}

export function renderConfigTs(
  config: UserConfig,
  header: string,
  warnings: readonly string[],
): string {
  const comments = [
    `// ${header}`,
    ...(warnings.length > 0
      ? [
          "// Not carried over, or changed (railyard import printed these too):",
          ...warnings.map((w) => `//   ${w}`),
        ]
      : []),
  ];
  return `${comments.join("\n")}
import { defineConfig } from "railyard";

export default defineConfig(${literal(config, "")});
`;
}
