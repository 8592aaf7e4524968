import type { UserConfig } from "../model/types.js";

/** A config, or a function of the environment that returns one (possibly async). */
export type UserConfigExport =
  UserConfig | Promise<UserConfig> | ((env: ConfigEnv) => UserConfig | Promise<UserConfig>);

/** What a config function receives. */
export interface ConfigEnv {
  /** The railyard command being run: "build", "run", ... */
  readonly command: string;
  /** The environment railyard runs in. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * Identity function that gives `railyard.config.ts` full type checking and editor completion.
 *
 * @example
 * export default defineConfig({ containers: { hello: { args: ["/bin/busybox", "echo", "hi"] } } });
 */
export function defineConfig(config: UserConfig): UserConfig;
export function defineConfig(config: Promise<UserConfig>): Promise<UserConfig>;
export function defineConfig(
  config: (env: ConfigEnv) => UserConfig | Promise<UserConfig>,
): (env: ConfigEnv) => UserConfig | Promise<UserConfig>;
export function defineConfig(config: UserConfigExport): UserConfigExport {
  return config;
}
