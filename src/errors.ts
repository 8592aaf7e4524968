/**
 * Every error railyard raises on purpose is a RailyardError. The CLI's single top-level catch
 * prints `message` and exits with `exitCode`: 2 for bad usage or bad config, 1 for a failure.
 */
export class RailyardError extends Error {
  /** The class's own name (`UsageError`), so a log line or `--json` says which error it was. */
  override name = this.constructor.name;
  readonly exitCode: number = 1;
}

/** One problem found in a config file, located by its key path (`containers.web.user`). */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** The config could not be found, parsed or validated. Carries every problem found, not just the first. */
export class ConfigError extends RailyardError {
  override readonly exitCode = 2;
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      problems
        .map((p) => (p.path ? `${file}: ${p.path}: ${p.message}` : `${file}: ${p.message}`))
        .join("\n"),
    );
  }
}

/** The command line was wrong (unknown flag, missing argument, unknown container). */
export class UsageError extends RailyardError {
  override readonly exitCode = 2;
}

/** An image reference that is not one (`pull 'no such::ref'`): bad input, exit 2. */
export class InvalidReferenceError extends RailyardError {
  override readonly exitCode = 2;
}

/** A host program's closure could not be computed (missing file, unreadable ELF, unresolvable library). */
export class ClosureError extends RailyardError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/** Writing a bundle failed for a reason the config could not have caught (missing device, disk). */
export class BuildError extends RailyardError {
  constructor(
    message: string,
    readonly container: string,
  ) {
    super(message);
  }
}

/** The OCI runtime could not be found, refused to start, or is unusable on this host. */
export class RuntimeError extends RailyardError {
  constructor(
    message: string,
    readonly runtime: string,
  ) {
    super(message);
  }
}

/** A layer tried to write, link or read outside its root, or holds an entry railyard refuses. */
export class UnsafeLayerError extends RailyardError {
  constructor(
    message: string,
    readonly entry: string,
  ) {
    super(message);
  }
}

/** A blob's bytes do not match the digest (or size) that names them. */
export class DigestMismatchError extends RailyardError {
  constructor(
    message: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(message);
  }
}

/** A layer or archive is not a valid tar stream, or not valid compressed data. */
export class InvalidLayerError extends RailyardError {}

/** The registry refused, failed, or answered with something railyard will not use. */
export class RegistryError extends RailyardError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Another switch (or build of a generation) holds the state directory's lock. */
export class ConcurrentSwitchError extends RailyardError {
  constructor(
    message: string,
    readonly holder: number,
  ) {
    super(message);
  }
}

/**
 * A generation names a unit that the host's unit directory has from another railyard project or
 * from outside railyard; installing it would take that service over. Nothing was changed.
 */
export class UnitConflictError extends RailyardError {
  constructor(
    message: string,
    readonly units: readonly string[],
  ) {
    super(message);
  }
}

/** A generation asked for (rollback --to N) does not exist. */
export class GenerationNotFoundError extends RailyardError {
  override readonly exitCode = 2;
  constructor(
    message: string,
    readonly generation: number,
  ) {
    super(message);
  }
}

/** systemd is not there (not PID 1) or a systemctl call failed. */
export class SystemdError extends RailyardError {}

/** A network cannot be set up: its addresses ran out, or its subnet is already the host's. */
export class NetworkError extends RailyardError {
  constructor(
    message: string,
    readonly network: string,
  ) {
    super(message);
  }
}

/** `railyard --user` cannot run as this user: no subordinate ids, no runtime dir, run as root. */
export class RootlessError extends RailyardError {
  constructor(
    message: string,
    readonly user: string,
  ) {
    super(message);
  }
}

/**
 * The state filesystem cannot be written: read-only (EROFS) or full (ENOSPC, EDQUOT). Names the
 * path and the filesystem it is on, with the way out; exit 1, since the command was right.
 */
export class StateWriteError extends RailyardError {
  constructor(
    message: string,
    readonly path: string,
    readonly code: string,
  ) {
    super(message);
  }
}
