/** Problems between containers: who joins whose network namespace, and dependency cycles. */
import { type ConfigProblem } from "../../errors.js";
import { joinedOwner } from "../../model/network.js";
import type { ResolvedContainer } from "../../model/types.js";

/**
 * `network: "container:NAME"` joins the namespace NAME's unit makes: NAME needs a network of its
 * own ("private" or a named one), runs with the same backend, and joins no other itself.
 */
export function joinedNetworkProblems(
  containers: Record<string, ResolvedContainer>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const c of Object.values(containers)) {
    const name = joinedOwner(c);
    if (name === undefined) continue;
    const o = containers[name];
    if (!o) continue; // said where the container was resolved
    const at = `containers.${c.name}.network`;
    const theirs = joinedOwner(o);
    if (theirs !== undefined)
      problems.push({
        path: at,
        message: `${name} joins ${theirs}'s network itself: join that one`,
      });
    else if (o.network === "none" || o.network === "host")
      problems.push({
        path: at,
        message: `${name} is on network "${o.network}", which has no namespace of its own to join: give ${name} network "private" (or a named one)${o.network === "host" ? `, or use network "host" here too` : ""}`,
      });
    if (o.backend !== c.backend)
      problems.push({
        path: at,
        message: `${name} runs with backend "${o.backend}" and this container with "${c.backend}": one that joins another's network runs with the same backend`,
      });
  }
  return problems;
}

/** dependsOn must form a DAG, since units start in that order. */
export function dependencyCycles(containers: Record<string, ResolvedContainer>): ConfigProblem[] {
  const state = new Map<string, "visiting" | "done">();
  const problems: ConfigProblem[] = [];
  const visit = (n: string, trail: string[]): void => {
    if (state.get(n) === "done") return;
    if (state.get(n) === "visiting") {
      const cycle = [...trail.slice(trail.indexOf(n)), n];
      problems.push({
        path: `containers.${n}.dependsOn`,
        message: `dependency cycle: ${cycle.join(" -> ")}`,
      });
      return;
    }
    state.set(n, "visiting");
    for (const d of containers[n]?.dependsOn ?? []) visit(d, [...trail, n]);
    state.set(n, "done");
  };
  for (const n of Object.keys(containers)) if (problems.length === 0) visit(n, []);
  return problems;
}
