#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Regenerates bpf/'s BPF objects and Go loaders (*_bpfel.o, *_bpfel.go)
# from the C sources; they are committed, so only changes to the C need
# this. Installs clang, llvm (llvm-strip) and libbpf-dev (bpf_helpers.h)
# with apt-get when clang or the headers are missing, which needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang >/dev/null || ! command -v llvm-strip >/dev/null || [ ! -f /usr/include/bpf/bpf_helpers.h ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "bpf/generate.sh: clang, llvm and libbpf-dev are needed: install them (as root it does: apt-get install clang llvm libbpf-dev)" >&2
		exit 1
	fi
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang llvm libbpf-dev
fi

"${GO:-go}" generate ./bpf/
