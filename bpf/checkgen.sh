#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Fails when bpf/'s generated files (*_bpfel.o, *_bpfel.go) do not match
# what its C sources and gen.go give now. It generates into a temporary
# copy of the module, so the work tree is never touched. The output does
# not depend on the directory it is built in, so this does not flap.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang >/dev/null; then
	echo "clang not found: skipping the check that bpf/ generated files are current"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bpf"
cp go.mod go.sum "$tmp/"
cp bpf/gen.go bpf/*.c bpf/*.h "$tmp/bpf/"
(cd "$tmp" && "${GO:-go}" generate ./bpf/)

stale=0
for name in $({ ls "$tmp/bpf"; ls bpf; } | grep "_bpfel\." | sort -u); do
	if ! cmp -s "$tmp/bpf/$name" "bpf/$name"; then
		echo "bpf/$name differs from what go generate gives" >&2
		stale=1
	fi
done
if [ "$stale" = 1 ]; then
	echo "bpf/: generated files are stale: run make generate and commit them" >&2
	exit 1
fi
