/**
 * The first load of a compiled script config runs in a worker thread with a time and a memory
 * limit. A config is code: one that loops forever would hang every command with no word, and one
 * that allocates without bound would crash node with a heap trace. In a worker, the loop is
 * stopped at the limit and the allocation at its heap's cap, and either is a config error that
 * names the file. What comes back is the settled default export as JSON; once a compiled module
 * has loaded this way, later runs import it in-process (compile.ts marks it), at no cost.
 */
import { Worker } from "node:worker_threads";
import type { ConfigEnv } from "./define.js";

/** The heap a config's first load may use. */
const HEAP_MB = 256;

/**
 * Runs inside the worker (a CommonJS script: the CLI is one bundled file, so the worker has no
 * file of its own). It settles the default export as load.ts does and sends back JSON text.
 */
const WORKER = `
const { workerData, parentPort } = require("node:worker_threads");
// As load.ts's thrown(): an Error's message, a string, or what was thrown instead.
const said = (e) =>
  e instanceof Error ? e.message : typeof e === "string" ? e :
  "it threw " + (e === null ? "null" : typeof e) + " rather than an Error";
(async () => {
  const ns = await import(workerData.module);
  let v = ns.default;
  if (v === undefined) return { kind: "nodefault" };
  try {
    const p = typeof v === "function" ? v(workerData.env) : v;
    // Its code has run; what is left is a promise to settle. A timer keeps the worker up while
    // it waits, as the main thread would be: a promise nothing will settle meets the time limit.
    parentPort.postMessage({ kind: "settling" });
    const alive = setInterval(() => {}, 1 << 30);
    try {
      v = await p;
    } finally {
      clearInterval(alive);
    }
  } catch (e) {
    return { kind: "threw", message: said(e) };
  }
  try {
    return { kind: "ok", json: v === undefined ? undefined : JSON.stringify(v) };
  } catch (e) {
    return { kind: "notdata", message: e instanceof Error ? e.message : String(e) };
  }
})().then(
  (r) => parentPort.postMessage(r),
  (e) => parentPort.postMessage({ kind: "load", message: e instanceof Error ? e.message : String(e) }),
);
`;

/** What the first load of a config gave, or why it gave nothing. */
export type Evaluation =
  | { readonly kind: "ok"; readonly json: string | undefined }
  | { readonly kind: "nodefault" }
  | { readonly kind: "threw"; readonly message: string }
  | { readonly kind: "notdata"; readonly message: string }
  | { readonly kind: "load"; readonly message: string }
  | { readonly kind: "timeout"; readonly ms: number; readonly settling: boolean }
  | { readonly kind: "memory"; readonly mb: number };

/** Load `module` and settle its default export in a worker, within `ms` and HEAP_MB. */
export function evaluateConfig(module: string, env: ConfigEnv, ms: number): Promise<Evaluation> {
  return new Promise((resolve) => {
    const w = new Worker(WORKER, {
      eval: true,
      workerData: { module, env: { command: env.command, env: { ...env.env } } },
      resourceLimits: { maxOldGenerationSizeMb: HEAP_MB },
      stdout: false,
      stderr: false,
    });
    const done = (r: Evaluation) => {
      clearTimeout(timer);
      void w.terminate();
      resolve(r);
    };
    let settling = false;
    const timer = setTimeout(() => done({ kind: "timeout", ms, settling }), ms);
    w.on("message", (r: Evaluation | { kind: "settling" }) => {
      if (r.kind === "settling") settling = true;
      else done(r);
    });
    w.once("error", (e: NodeJS.ErrnoException) =>
      done(
        e.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? { kind: "memory", mb: HEAP_MB }
          : { kind: "load", message: e.message },
      ),
    );
    w.once("exit", () => done({ kind: "load", message: "the worker that loads it stopped" }));
  });
}
