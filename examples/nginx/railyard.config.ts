import { defineConfig } from "railyard";

// The host's own nginx (Debian's package) as a container: no image, no registry, and no setup.
// `service` reads what the host already says of it: its packages (nginx, nginx-common) ship
// nginx.service, whose ExecStart gives the program (kept in the foreground: 'daemon off;'),
// whose ExecStop gives the stop signal (SIGQUIT), and which runs it as root, so its master gets
// what it needs to start its workers as www-data (SETUID, SETGID, CHOWN) and no more. The
// directories the packages own where nginx writes become a volume each (/var/lib/nginx,
// /var/log/nginx, kept under the state dir) and /run a tmpfs; the files the package's scripts
// made (the sites-enabled/default link, /var/www/html's page) are included. `railyard check
// --verbose` lists each of these and where it came from. The rootfs is the files of the
// packages that own /usr/sbin/nginx and what they depend on, hardlinked. Run it with
//   railyard --config examples/nginx/railyard.config.ts run web
// and open http://127.0.0.1:8080/ (a port published on loopback only, by default).
export default defineConfig({
  stateDir: "/var/lib/railyard-demo",
  containers: {
    web: {
      service: "nginx.service",
      closure: "packages",
      ports: ["8080:80"],
    },
  },
});
