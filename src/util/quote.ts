/** Quoting for systemd unit files and for the /bin/sh scripts their Exec lines run. Pure. */

/**
 * Quote one word for a systemd value split into words: `%` doubled for specifiers, a newline
 * written `\n`, and, where systemd expands variables (`variables`), `$` doubled.
 */
export function quoteWord(word: string, variables: boolean): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word.replace(/%/g, "%%");
  const q = word
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\n/g, "\\n")
    .replace(/%/g, "%%");
  return `"${variables ? q.replace(/\$/g, "$$$$") : q}"`;
}

/** Quote one word for an Exec*= line (systemd's own quoting rules). */
export const execQuote = (word: string): string => quoteWord(word, true);

/** A word for /bin/sh: single-quoted unless it is plainly safe. */
export function shQuote(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`;
}
