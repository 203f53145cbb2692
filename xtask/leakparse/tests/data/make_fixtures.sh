#!/bin/sh
# Regenerates the fixtures in this directory (see README.md). Needs cc, rustc,
# valgrind 3.19 and heaptrack 1.4. Run it from a scratch copy of this directory:
# paths inside the fixtures name that directory.
set -eu
cc -g -O0 -fno-omit-frame-pointer -o leaky leaky.c
rustc -g -C opt-level=1 -o leaky_rs leaky_rs.rs

VG="valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible --xml=yes"
HP="heaptrack_print --print-leaks=1 --print-peaks=1 --print-allocators=1 --print-temporary=1"

# C program: full run under each tool
$VG --xml-file=leaky.memcheck.xml ./leaky
heaptrack -o leaky.heaptrack ./leaky            # writes leaky.heaptrack.zst
$HP --file leaky.heaptrack.zst > leaky.heaptrack.txt
$HP --merge-backtraces=0 --file leaky.heaptrack.zst > leaky.unmerged.heaptrack.txt

# C program with suppressions (suppressed-leak line, suppressions table, suppcounts)
$HP --suppressions=heaptrack.supp --print-suppressions=1 --file leaky.heaptrack.zst \
    > leaky.suppressed.heaptrack.txt
$VG --suppressions=memcheck.supp --xml-file=leaky.suppressed.memcheck.xml ./leaky

# valgrind killed before it could finish: a real truncated XML file
$VG --xml-file=killed.memcheck.xml ./leaky hang &
vg=$!
sleep 5
kill -KILL "$vg"
wait "$vg" || true

# Rust program: leak section only for heaptrack (keeps the fixture small)
$VG --xml-file=leaky_rs.memcheck.xml ./leaky_rs
heaptrack -o leaky_rs.heaptrack ./leaky_rs      # writes leaky_rs.heaptrack.zst
heaptrack_print --print-leaks=1 --print-peaks=0 --print-allocators=0 --print-temporary=0 \
    --file leaky_rs.heaptrack.zst > leaky_rs.heaptrack.txt
