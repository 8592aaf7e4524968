/** argv for the OCI runtime CLI (runc and crun share it). Pure. */
export const runArgs = (id: string, bundle: string): string[] => ["run", "--bundle", bundle, id];
export const killArgs = (id: string, signal: string): string[] => [
  "kill",
  id,
  signal.replace(/^SIG/, ""),
];
export const deleteArgs = (id: string): string[] => ["delete", "--force", id];
export const stateArgs = (id: string): string[] => ["state", id];
