// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//go:build ignore

/* skiff_lan: on the LAN NIC, every frame goes to the AF_XDP socket of its
 * receive queue, or with vlan_filter set only frames whose outer VLAN tag
 * is listed in vlans; the rest go on to the kernel. */

#include "common.h"

/* Why a frame got its verdict; bpf/bpf_linux.go names them in this order. */
enum lan_reason {
	LAN_REDIRECTED,    /* handed to the socket */
	LAN_NO_SOCKET,     /* the queue has no socket */
	LAN_VLAN_FILTERED, /* untagged, or its outer VLAN id is not listed */
	LAN_TRUNCATED,     /* shorter than its Ethernet header or outer tag */
	LAN_NREASONS,
};

/* 1: only frames whose outer VLAN id has a non-zero entry in vlans. */
volatile const __u8 vlan_filter;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} vlans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LAN_NREASONS);
	__type(key, enum lan_reason);
	__type(value, __u64);
} counters SEC(".maps");

/* wanted returns LAN_REDIRECTED for a frame that vlan_filter lets
 * through, else the reason to pass it. */
static __always_inline enum lan_reason wanted(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct vlan_tag *tag = (void *)(eth + 1);
	__u32 vid;
	__u8 *listed;

	if ((void *)(eth + 1) > data_end)
		return LAN_TRUNCATED;
	if (!vlan_filter)
		return LAN_REDIRECTED;
	if (!is_vlan(eth->h_proto))
		return LAN_VLAN_FILTERED;
	if ((void *)(tag + 1) > data_end)
		return LAN_TRUNCATED;
	vid = bpf_ntohs(tag->tci) & 0x0fff;
	listed = bpf_map_lookup_elem(&vlans, &vid);
	if (!listed || !*listed)
		return LAN_VLAN_FILTERED;
	return LAN_REDIRECTED;
}

SEC("xdp.frags")
int skiff_lan(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	enum lan_reason reason = wanted(data, data_end);
	int verdict;

	if (reason != LAN_REDIRECTED) {
		count(&counters, reason);
		return XDP_PASS;
	}
	verdict = to_socket(ctx);
	count(&counters, verdict == XDP_REDIRECT ? LAN_REDIRECTED : LAN_NO_SOCKET);
	return verdict;
}
