// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//go:build ignore

/* skiff_underlay: on the underlay NIC, UDP datagrams to skiff's port go to
 * the AF_XDP socket of their receive queue; every other frame goes on to
 * the kernel. */

#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include "common.h"

/* Why a frame got its verdict; bpf/bpf_linux.go names them in this order. */
enum underlay_reason {
	UNDERLAY_REDIRECTED,      /* UDP to udp_port, handed to the socket */
	UNDERLAY_NO_SOCKET,       /* UDP to udp_port, but the queue has no socket */
	UNDERLAY_NOT_IP,          /* not IPv4 or IPv6 (ARP, a third tag, a bad version) */
	UNDERLAY_NOT_UDP,         /* IP, not UDP */
	UNDERLAY_OTHER_PORT,      /* UDP to another port */
	UNDERLAY_IP_FRAGMENT,     /* an IPv4 UDP fragment: the kernel reassembles */
	UNDERLAY_IPV6_EXT_HEADER, /* IPv6 with an extension header before UDP */
	UNDERLAY_TRUNCATED,       /* a header runs past the frame, or IHL < 5 */
	UNDERLAY_NREASONS,
};

/* skiff's UDP port in host byte order, set before loading. */
volatile const __u16 udp_port;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UNDERLAY_NREASONS);
	__type(key, enum underlay_reason);
	__type(value, __u64);
} counters SEC(".maps");

/* classify returns UNDERLAY_REDIRECTED for a frame that is ours, else the
 * reason to pass it. */
static __always_inline enum underlay_reason classify(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	struct udphdr *udp;
	__be16 proto;

	if (l3 > data_end)
		return UNDERLAY_TRUNCATED;
	proto = eth->h_proto;

	/* Up to two tags of either kind (QinQ: 802.1ad, then 802.1Q). */
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_tag *tag = l3;

		if (!is_vlan(proto))
			break;
		if ((void *)(tag + 1) > data_end)
			return UNDERLAY_TRUNCATED;
		proto = tag->proto;
		l3 = tag + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > data_end)
			return UNDERLAY_TRUNCATED;
		if (ip->version != 4)
			return UNDERLAY_NOT_IP;
		if (ip->ihl < 5)
			return UNDERLAY_TRUNCATED;
		if (ip->protocol != IPPROTO_UDP)
			return UNDERLAY_NOT_UDP;
		/* More Fragments set or a non-zero offset. */
		if (ip->frag_off & bpf_htons(0x3fff))
			return UNDERLAY_IP_FRAGMENT;
		udp = l3 + ip->ihl * 4; /* IP options are skipped */
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > data_end)
			return UNDERLAY_TRUNCATED;
		if (ip6->version != 6)
			return UNDERLAY_NOT_IP;
		switch (ip6->nexthdr) {
		case IPPROTO_UDP:
			break;
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_FRAGMENT:
		case IPPROTO_DSTOPTS:
		case 135: /* Mobility */
		case 139: /* HIP */
		case 140: /* Shim6 */
		case IPPROTO_AH:
		case IPPROTO_ESP:
			return UNDERLAY_IPV6_EXT_HEADER;
		default:
			return UNDERLAY_NOT_UDP;
		}
		udp = (void *)(ip6 + 1);
	} else {
		return UNDERLAY_NOT_IP;
	}

	if ((void *)(udp + 1) > data_end)
		return UNDERLAY_TRUNCATED;
	if (udp->dest != bpf_htons(udp_port))
		return UNDERLAY_OTHER_PORT;
	return UNDERLAY_REDIRECTED;
}

SEC("xdp.frags")
int skiff_underlay(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	enum underlay_reason reason = classify(data, data_end);
	int verdict;

	if (reason != UNDERLAY_REDIRECTED) {
		count(&counters, reason);
		return XDP_PASS;
	}
	verdict = to_socket(ctx);
	count(&counters, verdict == XDP_REDIRECT ? UNDERLAY_REDIRECTED : UNDERLAY_NO_SOCKET);
	return verdict;
}
