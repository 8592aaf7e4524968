import { defineConfig } from "railyard";

// The bundled demo: containers built from programs already on this host, with no image and no
// registry. Run it with `railyard --config examples/hello/railyard.config.ts run hello`.
export default defineConfig({
  stateDir: "/var/lib/railyard-demo",
  containers: {
    // busybox-static has no dependencies: the rootfs is one hardlinked file plus /etc.
    hello: {
      args: [
        "/bin/busybox",
        "sh",
        "-c",
        'echo "hello from $(hostname), uid $(id -u):$(id -g)"; ls /',
      ],
      user: "2000:100",
    },
    // The Debian packages that own python3, with their Depends, make up this rootfs.
    python: {
      args: [
        "/usr/bin/python3",
        "-c",
        "import sys, platform; print('python', platform.python_version(), 'in a container')",
      ],
      closure: "packages",
    },
  },
});
