#!/bin/sh
# The network of container web. Written by railyard: its unit runs "up" before the
# container starts and "down" after it stopped.
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin
undo=/run/railyard/net/web.undo
down() {
	if [ -f "$undo" ]; then nft -f "$undo" || true; rm -f "$undo"; fi
	ip netns delete railyard-web 2>/dev/null || true
	if [ -d /sys/class/net/ry-dual/brif ] && [ -d /run/railyard/net ]; then (
		flock 9
		if [ -z "$(ls /sys/class/net/ry-dual/brif)" ]; then
			ip link delete ry-dual 2>/dev/null || true
			nft delete element ip railyard ifaces '{ "ry-dual" }' 2>/dev/null || true
			nft delete element ip railyard samebridge '{ "ry-dual" . "ry-dual" }' 2>/dev/null || true
			nft delete element ip6 railyard ifaces '{ "ry-dual" }' 2>/dev/null || true
			nft delete element ip6 railyard samebridge '{ "ry-dual" . "ry-dual" }' 2>/dev/null || true
		fi
	) 9>/run/railyard/net/.lock; fi
}
case "${1-}" in
up)
	mkdir -p /run/railyard/net
	down
	(
		flock 9
		nft list table ip railyard >/dev/null 2>&1 || nft -f - <<'NFT'
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
		fib daddr type local dnat to ip daddr . meta l4proto . th dport map @published
		fib daddr type local dnat to meta l4proto . th dport map @publishedany
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local dnat to ip daddr . meta l4proto . th dport map @published
		fib daddr type local dnat to meta l4proto . th dport map @publishedany
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname @ifaces ip saddr 127.0.0.0/8 masquerade
		oifname @ifaces iifname @ifaces ct status dnat masquerade
		iifname @ifaces oifname != @ifaces masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		oifname @ifaces ct state established,related accept
		oifname @ifaces ct status dnat accept
		iifname . oifname @samebridge accept
		oifname @ifaces drop
	}
}
NFT
		echo 1 >/proc/sys/net/ipv4/ip_forward
		nft list table ip6 railyard >/dev/null 2>&1 || nft -f - <<'NFT'
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
		fib daddr type local dnat to ip6 daddr . meta l4proto . th dport map @published
		fib daddr type local dnat to meta l4proto . th dport map @publishedany
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local dnat to ip6 daddr . meta l4proto . th dport map @published
		fib daddr type local dnat to meta l4proto . th dport map @publishedany
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname @ifaces iifname @ifaces ct status dnat masquerade
		iifname @ifaces oifname != @ifaces masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
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
		if ! ip link show dev ry-dual >/dev/null 2>&1; then
			ip link add ry-dual address 02:72:0a:5b:00:01 type bridge
			nft add element ip railyard ifaces '{ "ry-dual" }'
			nft add element ip railyard samebridge '{ "ry-dual" . "ry-dual" }'
		fi
		echo 1 >/proc/sys/net/ipv4/conf/ry-dual/route_localnet
		ip -4 addr show dev ry-dual | grep -q ' inet 10.91.0.1/24 ' || { ip addr flush dev ry-dual; ip addr add 10.91.0.1/24 dev ry-dual; }
		ip link set ry-dual up
		ip -6 addr show dev ry-dual | grep -q ' inet6 fd00:91:7::1/64 ' || ip -6 addr add fd00:91:7::1/64 dev ry-dual nodad
		nft add element ip6 railyard ifaces '{ "ry-dual" }'
		nft add element ip6 railyard samebridge '{ "ry-dual" . "ry-dual" }'
		ip link delete ryv-4b5e57f6eb 2>/dev/null || true
		ip netns add railyard-web
		ip link add ryv-4b5e57f6eb type veth peer name eth0 address 02:72:0a:5b:00:02 netns railyard-web
		ip link set ryv-4b5e57f6eb master ry-dual up
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
	cat >"$undo" <<'NFT'
delete element ip railyard published { 127.0.0.1 . tcp . 8080 }
delete element ip6 railyard publishedany { tcp . 8443 }
NFT
	;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
