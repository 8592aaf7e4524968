#!/bin/sh
# The network of container app. Written by railyard: its unit runs "up" before the
# container starts and "down" after it stopped.
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin
undo=/run/railyard/net/app.undo
down() {
	if [ -f "$undo" ]; then nft -f "$undo" || true; rm -f "$undo"; fi
	[ ! -e /sys/class/net/ryv-a172cedcae ] || ip link delete ryv-a172cedcae
	[ ! -e /run/netns/railyard-app ] || ip netns delete railyard-app
	if [ -d /sys/class/net/ry-backend/brif ] && [ -d /run/railyard/net ]; then (
		flock 9
		if [ -z "$(ls /sys/class/net/ry-backend/brif)" ]; then
			ip link delete ry-backend 2>/dev/null || true
			nft -f - 2>/dev/null <<'NFT' || true
delete element ip railyard ifaces { "ry-backend" }
delete element ip railyard samebridge { "ry-backend" . "ry-backend" }
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
		if [ ! -d /sys/class/net/ry-backend ]; then
			ip -batch - <<'IP'
link add ry-backend address 02:72:0a:5b:00:01 type bridge
addr add 10.91.0.1/24 dev ry-backend
link set ry-backend up
IP
			nft -f - <<'NFT'
add element ip railyard ifaces { "ry-backend" }
add element ip railyard samebridge { "ry-backend" . "ry-backend" }
NFT
		elif ! ip -4 addr show dev ry-backend | grep -q ' inet 10.91.0.1/24 '; then
			ip addr flush dev ry-backend
			ip addr add 10.91.0.1/24 dev ry-backend
		fi
		echo 1 >/proc/sys/net/ipv4/conf/ry-backend/route_localnet
		[ ! -e /sys/class/net/ryv-a172cedcae ] || ip link delete ryv-a172cedcae
		ip -batch - <<'IP'
netns add railyard-app
link add ryv-a172cedcae type veth peer name eth0 address 02:72:0a:5b:00:02 netns railyard-app
link set ryv-a172cedcae master ry-backend up
IP
	) 9>/run/railyard/net/.lock
	ip -n railyard-app -batch - <<'IP'
addr add 10.91.0.2/24 dev eth0
link set eth0 up
link set lo up
route add default via 10.91.0.1
IP
	nft -f - <<'NFT' || { echo "railyard: cannot publish 127.0.0.1:8080/tcp 0.0.0.0:5353/udp of app: another container publishes it" >&2; exit 1; }
create element ip railyard published { 127.0.0.1 . tcp . 8080 : 10.91.0.2 . 80 }
create element ip railyard publishedany { udp . 5353 : 10.91.0.2 . 53 }
NFT
	printf '%s\n' \
		'delete element ip railyard published { 127.0.0.1 . tcp . 8080 }' \
		'delete element ip railyard publishedany { udp . 5353 }' \
		>"$undo"
	;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
