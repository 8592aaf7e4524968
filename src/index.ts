/** The public API of railyard: what `railyard.config.ts` imports, and the library behind the CLI. */
export { defineConfig, type ConfigEnv, type UserConfigExport } from "./config/define.js";
export type * from "./model/types.js";
export { resolveConfig, type ResolveContext } from "./config/resolve/index.js";
export { loadConfig, findConfigFile } from "./config/load.js";
export { computeClosure, type Closure, type PlanEntry } from "./closure/index.js";
export { renderSpec, serializeSpec, type OciSpec } from "./bundle/spec.js";
export { planRootfs } from "./bundle/rootfs.js";
export { buildContainer, type BuildResult } from "./bundle/build.js";
export { chooseRuntime, hostProbe, type RuntimeChoice } from "./host/detect.js";
export {
  switchConfig,
  rollbackConfig,
  downConfig,
  rollbackTarget,
  type SwitchIo,
  type SwitchResult,
} from "./generations/switch.js";
export * from "./errors.js";
