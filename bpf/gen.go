// SPDX-License-Identifier: Apache-2.0

package bpf

// Compiles the C programs into little-endian BPF objects and Go loaders
// (underlay_bpfel.go/.o, lan_bpfel.go/.o), which are committed: building
// needs no clang. The include path is Debian's amd64 multiarch directory
// (asm/types.h); bpf/generate.sh installs clang, llvm and libbpf-dev.
//go:generate go tool bpf2go -tags linux -target bpfel -cc clang -type underlay_reason underlay underlay.c -- -O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu
//go:generate go tool bpf2go -tags linux -target bpfel -cc clang -type lan_reason lan lan.c -- -O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu
