/** A switch's line in the journal, for railyard events. Pure. */
import type { ResolvedConfig } from "../model/types.js";
import type { TransactionResult } from "./transaction.js";

/**
 * The journal identifier of this state dir's switch lines: "railyard", and for a state dir other
 * than the default, with its id scope, so that each project's events list only its own switches.
 */
export const journalIdentifier = (config: ResolvedConfig): string =>
  config.idScope ? `railyard-${config.idScope}` : "railyard";

/** The journal's line for a switch, rollback or update that changed something or failed. Pure. */
export function eventLine(verb: string, r: TransactionResult): string | undefined {
  const p = r.plan;
  const parts = (
    [
      ["start", p.start],
      ["restart", p.restart],
      ["stop", p.stop],
    ] as const
  )
    .filter(([, xs]) => xs.length > 0)
    .map(([k, xs]) => `${k} ${xs.join(" ")}`);
  if (parts.length === 0 && r.reason === undefined) return undefined;
  const back = r.rolledBack ? `; rolled back to generation ${r.rolledBack.to}` : "";
  return `${verb} from generation ${r.from ?? "(none)"} to ${r.to}: ${parts.join("; ") || "no service changed"}${r.reason !== undefined ? `; failed: ${r.reason}${back}` : ""}`;
}
