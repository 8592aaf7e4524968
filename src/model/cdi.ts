/** CDI device names as a config writes them, and where specs are read by default. Pure. */

/** Where CDI specs are read from, lowest priority first, as podman reads them. */
export const DEFAULT_CDI_DIRS: readonly string[] = ["/etc/cdi", "/var/run/cdi"];

const VENDOR_OR_CLASS = /^[A-Za-z](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
/** The name of a device within its kind, the part after "=". */
export const DEVICE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._:-]*[A-Za-z0-9])?$/;

/** A fully qualified CDI device name, `vendor.com/class=name`, or why it is not one. */
export function checkCdiName(name: string): string | undefined {
  const m = /^([^/=]*)\/([^/=]*)=(.*)$/.exec(name);
  const usage = 'expected "vendor.com/class=name", e.g. "nvidia.com/gpu=all"';
  if (!m) return `${JSON.stringify(name)} is not a CDI device name. ${usage}`;
  const [, vendor = "", cls = "", dev = ""] = m;
  if (!VENDOR_OR_CLASS.test(vendor))
    return `${JSON.stringify(name)}: the vendor ${JSON.stringify(vendor)} must start with a letter and hold letters, digits, ".", "-", "_". ${usage}`;
  if (!VENDOR_OR_CLASS.test(cls))
    return `${JSON.stringify(name)}: the class ${JSON.stringify(cls)} must start with a letter and hold letters, digits, ".", "-", "_". ${usage}`;
  if (!DEVICE_NAME.test(dev))
    return `${JSON.stringify(name)}: the device name ${JSON.stringify(dev)} must start and end with a letter or digit and hold letters, digits, ".", ":", "-", "_". ${usage}`;
  return undefined;
}
