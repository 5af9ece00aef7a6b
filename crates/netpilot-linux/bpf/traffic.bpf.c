// netpilot's per-socket packet counter: a cgroup_skb program attached (ingress and
// egress) at the root of the cgroup v2 hierarchy, so it sees every packet a local socket
// sends or receives, of every protocol, without packet capture. It counts per socket
// cookie, interface and remote address, in a per-CPU hash (no atomics on the hot path);
// netpilot joins the cookies to the sockets of its sock_diag dump, which carry the same
// cookie. Built by crates/netpilot-linux/build.rs with `clang -target bpf`.
//
// The helpers used are not GPL-only; the licence string is one the kernel accepts either way.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#undef __always_inline
#define __always_inline inline __attribute__((always_inline))
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value,
                                   __u64 flags) = (void *)BPF_FUNC_map_update_elem;
static long (*bpf_skb_load_bytes)(const void *skb, __u32 offset, void *to,
                                  __u32 len) = (void *)BPF_FUNC_skb_load_bytes;
static __u64 (*bpf_get_socket_cookie)(void *ctx) = (void *)BPF_FUNC_get_socket_cookie;

// What one socket moved with one remote on one interface (struct PacketKey in Rust).
struct key {
	__u64 cookie;
	__u32 ifindex;
	__u16 remote_port; // host order; 0 when the protocol has no ports
	__u8 protocol;     // IPPROTO_* of the transport header
	__u8 pad;
	__u8 remote[16];   // IPv6, or IPv4-mapped IPv6 (::ffff:a.b.c.d)
};

// Cumulative counters (struct PacketCounters in Rust). "payload" is what follows the IP
// header and, for TCP and UDP, the transport header: the same bytes tcp_info counts for
// TCP. "wire" is the IP packets as they crossed the interface: a GSO/GRO super-packet
// counts one IP and transport header per segment, as the interface counters do.
struct counters {
	__u64 rx_payload;
	__u64 rx_packets;
	__u64 rx_wire;
	__u64 tx_payload;
	__u64 tx_packets;
	__u64 tx_wire;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	// Entries are created in the packet path: allocate them as needed, not 2^17 up front.
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 17);
	__type(key, struct key);
	__type(value, struct counters);
} flows SEC(".maps");

// Packets not counted because `flows` was full (one slot per CPU).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} missed SEC(".maps");

// The network namespace counted (its cookie, SO_NETNS_COOKIE), written by netpilot into
// this read-only global before loading (a constant to the program: no map lookup per
// packet). The program sees every namespace's packets; counting only one keeps the map to
// the sockets netpilot can name. Built with NETNS_FILTER=0 for kernels before 6.14, whose
// cgroup_skb programs cannot call bpf_get_netns_cookie.
#ifndef NETNS_FILTER
#define NETNS_FILTER 1
#endif
#if NETNS_FILTER
static __u64 (*bpf_get_netns_cookie)(void *ctx) = (void *)BPF_FUNC_get_netns_cookie;
const volatile __u64 counted_netns = 0;
#endif

// The header lengths of one packet and its remote end.
struct parsed {
	__u32 headers; // IP header (with IPv6 extension headers) plus transport header
	__u8 protocol;
	__u16 remote_port;
};

static __always_inline int transport(struct __sk_buff *skb, __u32 offset, __u8 protocol,
				     int ingress, struct parsed *p, struct key *k)
{
	__u16 ports[2];
	__u8 doff;

	p->protocol = protocol;
	p->headers = offset;
	switch (protocol) {
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		p->headers += 8;
		break;
	case IPPROTO_TCP:
		// The data offset, in 32-bit words, is the high nibble of byte 12.
		if (bpf_skb_load_bytes(skb, offset + 12, &doff, 1) == 0)
			p->headers += (doff >> 4) * 4;
		break;
	default:
		return 0; // ICMP, raw…: everything after the IP header is payload
	}
	if (bpf_skb_load_bytes(skb, offset, ports, sizeof(ports)) == 0)
		k->remote_port = __builtin_bswap16(ingress ? ports[0] : ports[1]);
	return 0;
}

static __always_inline int parse(struct __sk_buff *skb, int ingress, struct parsed *p,
				 struct key *k)
{
	if (skb->protocol == __builtin_bswap16(ETH_P_IP)) {
		__u8 vihl, protocol;
		__u32 address;

		if (bpf_skb_load_bytes(skb, 0, &vihl, 1) || bpf_skb_load_bytes(skb, 9, &protocol, 1))
			return -1;
		if (bpf_skb_load_bytes(skb, ingress ? 12 : 16, &address, 4))
			return -1;
		k->remote[10] = 0xff;
		k->remote[11] = 0xff;
		__builtin_memcpy(&k->remote[12], &address, 4);
		return transport(skb, (vihl & 0xf) * 4, protocol, ingress, p, k);
	}
	if (skb->protocol == __builtin_bswap16(ETH_P_IPV6)) {
		__u8 next, ext[2];
		__u32 offset = 40;

		if (bpf_skb_load_bytes(skb, 6, &next, 1))
			return -1;
		if (bpf_skb_load_bytes(skb, ingress ? 8 : 24, k->remote, 16))
			return -1;
		// Hop-by-hop, routing, fragment and destination options headers, a few deep.
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (next != 0 && next != 43 && next != 44 && next != 60)
				break;
			if (bpf_skb_load_bytes(skb, offset, ext, 2))
				return -1;
			offset += next == 44 ? 8 : (ext[1] + 1) * 8;
			next = ext[0];
		}
		return transport(skb, offset, next, ingress, p, k);
	}
	return -1;
}

// The common case read in place (direct packet access): IPv4 or IPv6 without extension
// headers, UDP or TCP, all in the linear area. -1 sends the packet to parse().
static __always_inline int parse_direct(struct __sk_buff *skb, int ingress, struct parsed *p,
					struct key *k)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u8 *l4;
	__u8 protocol;

	if (skb->protocol == __builtin_bswap16(ETH_P_IP)) {
		struct iphdr *ip = data;

		if ((void *)(ip + 1) > end)
			return -1;
		l4 = (__u8 *)data + ip->ihl * 4;
		protocol = ip->protocol;
		k->remote[10] = 0xff;
		k->remote[11] = 0xff;
		__builtin_memcpy(&k->remote[12], ingress ? &ip->saddr : &ip->daddr, 4);
		p->headers = ip->ihl * 4;
	} else if (skb->protocol == __builtin_bswap16(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data;

		if ((void *)(ip6 + 1) > end)
			return -1;
		protocol = ip6->nexthdr;
		if (protocol != IPPROTO_UDP && protocol != IPPROTO_TCP)
			return -1; // extension headers, ICMPv6…: the general path
		l4 = (__u8 *)(ip6 + 1);
		__builtin_memcpy(k->remote, ingress ? &ip6->saddr : &ip6->daddr, 16);
		p->headers = sizeof(*ip6);
	} else {
		return -1;
	}
	p->protocol = protocol;
	if (protocol == IPPROTO_UDP || protocol == IPPROTO_UDPLITE) {
		struct udphdr *udp = (void *)l4;

		if ((void *)(udp + 1) > end)
			return -1;
		p->headers += sizeof(*udp);
		k->remote_port = __builtin_bswap16(ingress ? udp->source : udp->dest);
	} else if (protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)l4;

		if ((void *)(tcp + 1) > end)
			return -1;
		p->headers += tcp->doff * 4;
		k->remote_port = __builtin_bswap16(ingress ? tcp->source : tcp->dest);
	}
	return 0;
}

static __always_inline void count(struct __sk_buff *skb, int ingress)
{
	struct key k = {};
	struct parsed p = {};
	struct counters *c;
	__u32 segments = skb->gso_segs > 1 ? skb->gso_segs : 1;
	__u64 payload, wire;

#if NETNS_FILTER
	if (counted_netns && bpf_get_netns_cookie(skb) != counted_netns)
		return;
#endif
	// Most packets' headers are in the linear area and read in place; the rest (and
	// IPv6 extension headers) through bpf_skb_load_bytes.
	if (parse_direct(skb, ingress, &p, &k) && parse(skb, ingress, &p, &k))
		return; // not IP (the hook sees only IP; nothing else to count)
	k.cookie = bpf_get_socket_cookie(skb);
	k.ifindex = skb->ifindex;
	k.protocol = p.protocol;
	payload = skb->len > p.headers ? skb->len - p.headers : 0;
	wire = skb->len + (__u64)(segments - 1) * p.headers;

	c = bpf_map_lookup_elem(&flows, &k);
	if (!c) {
		struct counters zero = {};

		// BPF_NOEXIST: another CPU may have added it meanwhile; then use its entry.
		if (bpf_map_update_elem(&flows, &k, &zero, BPF_NOEXIST) && !bpf_map_lookup_elem(&flows, &k)) {
			__u32 zero_slot = 0;
			__u64 *lost = bpf_map_lookup_elem(&missed, &zero_slot);

			if (lost)
				*lost += segments;
			return;
		}
		c = bpf_map_lookup_elem(&flows, &k);
		if (!c)
			return;
	}
	// Per-CPU values: this CPU's copy, so plain additions are safe.
	if (ingress) {
		c->rx_payload += payload;
		c->rx_packets += segments;
		c->rx_wire += wire;
	} else {
		c->tx_payload += payload;
		c->tx_packets += segments;
		c->tx_wire += wire;
	}
}

SEC("cgroup_skb/ingress")
int netpilot_ingress(struct __sk_buff *skb)
{
	count(skb, 1);
	return 1; // counting only: always let the packet pass
}

SEC("cgroup_skb/egress")
int netpilot_egress(struct __sk_buff *skb)
{
	count(skb, 0);
	return 1;
}

char _license[] SEC("license") = "Dual MIT/GPL";
