import { defineConfig } from "railyard";

// The host's own nginx (Debian's package) as a container: no image, no registry. Its rootfs is
// the files of the Debian packages that own /usr/sbin/nginx (nginx, nginx-common, and what they
// depend on), hardlinked, with Debian's /etc/nginx as installed. Run it with
//   railyard --config examples/nginx/railyard.config.ts run web
// and open http://127.0.0.1:8080/ (a port published on loopback only, by default).
export default defineConfig({
  stateDir: "/var/lib/railyard-demo",
  containers: {
    web: {
      args: ["/usr/sbin/nginx", "-g", "daemon off; error_log stderr;"],
      closure: "packages",
      // Two things the package's postinst makes, so no package owns them: the link that enables
      // the default site, and the page it serves. Include them (volumes would do as well).
      include: ["/etc/nginx/sites-enabled", "/var/www/html"],
      ports: ["8080:80"],
      // A host program's root is read-only. nginx writes its pid file under /run, its logs
      // under /var/log/nginx and request bodies under /var/lib/nginx: each gets a tmpfs.
      tmpfs: ["/run", "/var/log/nginx", "/var/lib/nginx"],
      // A host program starts from runc's capabilities. nginx's master stays root and starts
      // its workers as www-data (SETUID, SETGID), after chowning their temp directories
      // (CHOWN). The host's system accounts are in the container's /etc/passwd, so www-data
      // resolves. Port 80 is fine: the container has a network namespace of its own.
      capabilities: { SETUID: true, SETGID: true, CHOWN: true },
      stopSignal: "SIGQUIT",
    },
  },
});
