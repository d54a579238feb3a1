#!/bin/sh
# SPDX-License-Identifier: MIT
# The tour of examples that `make run` shows: each program of examples/TOUR,
# in order, under its heading.
set -eu
dir=${1:-build/examples}
here=$(dirname "$0")
grep -v '^#' "$here/../examples/TOUR" | while IFS='|' read -r name title; do
    [ -n "$name" ] || continue
    printf '\n== %s (examples/%s.c)\n' "$title" "$name"
    "$dir/$name"
done
