/**
 * Man pages from the help text itself (pure): railyard(1) is `railyard --help`, and
 * railyard-CMD(1) is `railyard CMD --help`, each set as written (no-fill), so that the two
 * never disagree. scripts/man.mjs writes them at build time into dist/man/man1/.
 */
import type { Command } from "./context.js";

/** Text as roff reads it literally: backslashes, minus signs, and control characters at a line start. */
function roffText(text: string): string {
  return text
    .split("\n")
    .map((l) =>
      l
        .replace(/\\/g, "\\e")
        .replace(/-/g, "\\-")
        .replace(/^([.'])/, "\\&$1"),
    )
    .join("\n");
}

/** One page: NAME, SYNOPSIS and DESCRIPTION, then SEE ALSO. */
export function manPage(o: {
  readonly name: string;
  readonly summary: string;
  readonly synopsis: string;
  readonly body: string;
  readonly version: string;
  readonly date: string;
  readonly seeAlso: readonly string[];
}): string {
  return [
    `.TH ${o.name.toUpperCase()} 1 "${o.date}" "railyard ${o.version}" "railyard manual"`,
    // No hyphenation and no justification: names and flags stay whole, as --help prints them.
    ".nh",
    ".ad l",
    ".SH NAME",
    `${roffText(o.name)} \\- ${roffText(o.summary)}`,
    ".SH SYNOPSIS",
    ".nf",
    roffText(o.synopsis),
    ".fi",
    ".SH DESCRIPTION",
    ".nf",
    roffText(o.body),
    ".fi",
    ".SH SEE ALSO",
    o.seeAlso.map((s) => `.BR ${roffText(s)} (1)`).join(",\n"),
    "",
  ].join("\n");
}

/** Every page: file name -> roff text. */
export function manPages(o: {
  readonly commands: readonly Command[];
  readonly mainHelp: string;
  readonly commandHelp: (c: Command) => string;
  readonly version: string;
  readonly date: string;
}): Record<string, string> {
  const pages: Record<string, string> = {
    "railyard.1": manPage({
      name: "railyard",
      summary: "containers on one Linux host as supervised services, with no container daemon",
      synopsis: "railyard <command> [flags]",
      body: o.mainHelp,
      version: o.version,
      date: o.date,
      seeAlso: o.commands.map((c) => `railyard-${c.name}`),
    }),
  };
  for (const c of o.commands)
    pages[`railyard-${c.name}.1`] = manPage({
      name: `railyard-${c.name}`,
      summary: c.summary,
      synopsis: c.usage,
      body: o.commandHelp(c),
      version: o.version,
      date: o.date,
      seeAlso: ["railyard"],
    });
  return pages;
}
