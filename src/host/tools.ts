/** Where the host programs railyard starts live (Debian's paths). */

/** Debian's (and every usr-merged distribution's) systemd-socket-proxyd. */
export const SOCKET_PROXYD = "/lib/systemd/systemd-socket-proxyd";

/** Where Debian's passt package puts pasta. */
export const PASTA = "/usr/bin/pasta";
