#!/bin/sh
# The network of container solo. Written by railyard: its unit runs "up" before the
# container starts and "down" after it stopped.
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin
undo=/run/railyard/net/solo.undo
down() {
	if [ -f "$undo" ]; then nft -f "$undo" || true; rm -f "$undo"; fi
	[ ! -e /sys/class/net/ryv-5364f2f2fc ] || ip link delete ryv-5364f2f2fc
	[ ! -e /run/netns/railyard-solo ] || ip netns delete railyard-solo
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
	) 9>/run/railyard/net/.lock
	[ ! -e /sys/class/net/ryv-5364f2f2fc ] || ip link delete ryv-5364f2f2fc
	ip -batch - <<'IP'
netns add railyard-solo
link add ryv-5364f2f2fc type veth peer name eth0 address 02:72:0a:5a:00:01 netns railyard-solo
addr add 10.90.0.0/31 dev ryv-5364f2f2fc
link set ryv-5364f2f2fc up
IP
	echo 1 >/proc/sys/net/ipv4/conf/ryv-5364f2f2fc/route_localnet
	ip -n railyard-solo -batch - <<'IP'
addr add 10.90.0.1/31 dev eth0
link set eth0 up
link set lo up
route add default via 10.90.0.0
IP
	nft -f - <<'NFT' || { echo "railyard: cannot publish 127.0.0.1:9000/tcp of solo: another container publishes it" >&2; exit 1; }
create element ip railyard ifaces { "ryv-5364f2f2fc" }
create element ip railyard published { 127.0.0.1 . tcp . 9000 : 10.90.0.1 . 90 }
NFT
	printf '%s\n' \
		'delete element ip railyard ifaces { "ryv-5364f2f2fc" }' \
		'delete element ip railyard published { 127.0.0.1 . tcp . 9000 }' \
		>"$undo"
	;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
