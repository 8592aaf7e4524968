/**
 * What went wrong in a file that did not parse, named by where and what was expected, never by
 * the text of the line: a config or profile path can name any file (/etc/shadow, a secret), and
 * error messages go to terminals, logs and CI output. Pure.
 */

/** "line L, column C" of a character offset. */
export function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, offset));
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `line ${line}, column ${column}`;
}

/** A JSON.parse failure as "invalid JSON at line L, column C: what was expected". */
export function jsonProblem(e: unknown, text: string): string {
  const msg = e instanceof Error ? e.message : String(e);
  const pos = /at position (\d+)/.exec(msg);
  const where = pos ? ` at ${lineColumn(text, Number(pos[1]))}` : "";
  // V8 says "Expected ':' after property name in JSON at position 5": grammar, not content.
  const expected = /^(Expected .*?) in JSON at position/.exec(msg)?.[1];
  const what = /Unexpected end of JSON input/.test(msg)
    ? "the text ends before the JSON does"
    : expected
      ? expected.charAt(0).toLowerCase() + expected.slice(1)
      : "a character JSON does not allow there";
  return `invalid JSON${where}: ${what}`;
}

/** A YAML error as "line L, column C: what" (the yaml library adds the line's text after). */
export function yamlProblem(e: {
  message: string;
  linePos?: readonly { line: number; col: number }[];
}): string {
  const at = e.linePos?.[0];
  const what = (e.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
  return `${at ? `line ${at.line}, column ${at.col}: ` : ""}${what}`;
}
