// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What skiff's two XDP programs share: the AF_XDP socket map, the VLAN tag
 * layout, and the per-reason verdict counter. */
#ifndef SKIFF_COMMON_H
#define SKIFF_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* One AF_XDP socket per receive queue; an empty slot means "pass". */
#define MAX_QUEUES 64

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* An 802.1Q or 802.1ad tag: it sits where the ethertype was and carries
 * the next ethertype. */
struct vlan_tag {
	__be16 tci; /* priority (3 bits), DEI (1), VLAN id (12) */
	__be16 proto;
};

static __always_inline int is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* Adds one to this CPU's counter of reason in a PERCPU_ARRAY of __u64. */
static __always_inline void count(void *counters, __u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(counters, &reason);

	if (n)
		*n += 1;
}

/* Sends the frame to the socket of the queue it arrived on. The caller
 * counts redirected or no_socket from the returned verdict. */
static __always_inline int to_socket(struct xdp_md *ctx)
{
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#endif
