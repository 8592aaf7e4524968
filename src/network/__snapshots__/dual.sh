#!/bin/sh
# The network of container web. Written by railyard: its unit runs "up" before the
# container starts and "down" after it stopped.
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin
undo=/run/railyard/net/web.undo
down() {
	if [ -f "$undo" ]; then nft -f "$undo" || true; rm -f "$undo"; fi
	[ ! -e /sys/class/net/ryv-4b5e57f6eb ] || ip link delete ryv-4b5e57f6eb
	[ ! -e /run/netns/railyard-web ] || ip netns delete railyard-web
	if [ -d /sys/class/net/ry-dual/brif ] && [ -d /run/railyard/net ]; then (
		flock 9
		if [ -z "$(ls /sys/class/net/ry-dual/brif)" ]; then
			ip link delete ry-dual 2>/dev/null || true
			nft -f - 2>/dev/null <<'NFT' || true
delete element ip railyard ifaces { "ry-dual" }
delete element ip railyard samebridge { "ry-dual" . "ry-dual" }
delete element ip6 railyard ifaces { "ry-dual" }
delete element ip6 railyard samebridge { "ry-dual" . "ry-dual" }
NFT
		fi
	) 9>/run/railyard/net/.lock; fi
}
case "${1-}" in
up)
	[ -d /run/railyard/net ] || mkdir -p /run/railyard/net
	down
	(
		flock 9
		nft list chain ip railyard input >/dev/null 2>&1 || nft -f - <<'NFT'
table ip railyard {
	set ifaces {
		type ifname
	}
	set samebridge {
		type ifname . ifname
	}
	map published {
		type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
	}
	map publishedany {
		type inet_proto . inet_service : ipv4_addr . inet_service
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
	}
	chain output {
		type nat hook output priority -100; policy accept;
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
	}
	chain input {
		type filter hook input priority filter; policy accept;
	}
}
flush chain ip railyard prerouting
flush chain ip railyard output
flush chain ip railyard postrouting
flush chain ip railyard forward
flush chain ip railyard input
table ip railyard {
	chain prerouting {
		fib daddr type local dnat to ip daddr . meta l4proto . th dport map @published
		fib daddr type local dnat to meta l4proto . th dport map @publishedany
	}
	chain output {
		fib daddr type local dnat to ip daddr . meta l4proto . th dport map @published
		fib daddr type local dnat to meta l4proto . th dport map @publishedany
	}
	chain postrouting {
		oifname @ifaces ip saddr 127.0.0.0/8 masquerade
		oifname @ifaces iifname @ifaces ct status dnat masquerade
		iifname @ifaces oifname != @ifaces masquerade
	}
	chain forward {
		oifname @ifaces ct state established,related accept
		oifname @ifaces ct status dnat accept
		iifname . oifname @samebridge accept
		oifname @ifaces drop
	}
	chain input {
		iifname @ifaces ip daddr 127.0.0.0/8 ct state established,related accept
		iifname @ifaces ip daddr 127.0.0.0/8 ct status dnat accept
		iifname @ifaces ip daddr 127.0.0.0/8 drop
	}
}
NFT
		echo 1 >/proc/sys/net/ipv4/ip_forward
		nft list chain ip6 railyard forward >/dev/null 2>&1 || nft -f - <<'NFT'
table ip6 railyard {
	set ifaces {
		type ifname
	}
	set samebridge {
		type ifname . ifname
	}
	map published {
		type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service
	}
	map publishedany {
		type inet_proto . inet_service : ipv6_addr . inet_service
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
	}
	chain output {
		type nat hook output priority -100; policy accept;
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
	}
}
flush chain ip6 railyard prerouting
flush chain ip6 railyard output
flush chain ip6 railyard postrouting
flush chain ip6 railyard forward
table ip6 railyard {
	chain prerouting {
		fib daddr type local dnat to ip6 daddr . meta l4proto . th dport map @published
		fib daddr type local dnat to meta l4proto . th dport map @publishedany
	}
	chain output {
		fib daddr type local dnat to ip6 daddr . meta l4proto . th dport map @published
		fib daddr type local dnat to meta l4proto . th dport map @publishedany
	}
	chain postrouting {
		oifname @ifaces iifname @ifaces ct status dnat masquerade
		iifname @ifaces oifname != @ifaces masquerade
	}
	chain forward {
		oifname @ifaces ct state established,related accept
		oifname @ifaces ct status dnat accept
		iifname . oifname @samebridge accept
		oifname @ifaces drop
	}
}
NFT
		if [ "$(cat /proc/sys/net/ipv6/conf/all/forwarding)" != 1 ]; then
			for f in /proc/sys/net/ipv6/conf/*/accept_ra; do [ "$(cat "$f")" != 1 ] || echo 2 >"$f"; done
			echo 1 >/proc/sys/net/ipv6/conf/all/forwarding
		fi
		if [ ! -d /sys/class/net/ry-dual ]; then
			ip -batch - <<'IP'
link add ry-dual address 02:72:0a:5b:00:01 type bridge
addr add 10.91.0.1/24 dev ry-dual
addr add fd00:91:7::1/64 dev ry-dual nodad
link set ry-dual up
IP
			nft -f - <<'NFT'
add element ip railyard ifaces { "ry-dual" }
add element ip railyard samebridge { "ry-dual" . "ry-dual" }
add element ip6 railyard ifaces { "ry-dual" }
add element ip6 railyard samebridge { "ry-dual" . "ry-dual" }
NFT
		elif ! ip -4 addr show dev ry-dual | grep -q ' inet 10.91.0.1/24 '; then
			ip addr flush dev ry-dual
			ip addr add 10.91.0.1/24 dev ry-dual
		fi
		ip -6 addr show dev ry-dual | grep -q ' inet6 fd00:91:7::1/64 ' || { ip -6 addr add fd00:91:7::1/64 dev ry-dual nodad; nft -f - <<'NFT'
add element ip6 railyard ifaces { "ry-dual" }
add element ip6 railyard samebridge { "ry-dual" . "ry-dual" }
NFT
		}
		echo 1 >/proc/sys/net/ipv4/conf/ry-dual/route_localnet
		[ ! -e /sys/class/net/ryv-4b5e57f6eb ] || ip link delete ryv-4b5e57f6eb
		ip -batch - <<'IP'
netns add railyard-web
link add ryv-4b5e57f6eb type veth peer name eth0 address 02:72:0a:5b:00:02 netns railyard-web
link set ryv-4b5e57f6eb master ry-dual up
IP
	) 9>/run/railyard/net/.lock
	ip -n railyard-web -batch - <<'IP'
addr add 10.91.0.2/24 dev eth0
addr add fd00:91:7::2/64 dev eth0 nodad
link set eth0 up
link set lo up
route add default via 10.91.0.1
route add default via fd00:91:7::1
IP
	nft -f - <<'NFT' || { echo "railyard: cannot publish [::]:8443/tcp 127.0.0.1:8080/tcp of web: another container publishes it" >&2; exit 1; }
create element ip railyard published { 127.0.0.1 . tcp . 8080 : 10.91.0.2 . 80 }
create element ip6 railyard publishedany { tcp . 8443 : fd00:91:7::2 . 443 }
NFT
	printf '%s\n' \
		'delete element ip railyard published { 127.0.0.1 . tcp . 8080 }' \
		'delete element ip6 railyard publishedany { tcp . 8443 }' \
		>"$undo"
	;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
