import { DEFAULT_STATE_DIR } from "../../src/config/resolve/index.js";
import { containerId, idScope } from "../../src/model/ids.js";

/** The runtime id railyard gives container `name` of the project whose state dir is `stateDir`. */
export const runtimeId = (stateDir: string, name: string, project?: string): string =>
  containerId(name, { idScope: idScope(stateDir, DEFAULT_STATE_DIR), project });
