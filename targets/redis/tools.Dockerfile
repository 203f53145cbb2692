# Redis plus the leak tools, for `cargo xtask heap` and `memcheck`
# (`wrap.image` of the redis profile). Built after runcost/redis:dev.
# zstd makes heaptrack write .zst traces.
FROM runcost/redis:dev
RUN apt-get update \
 && apt-get install -y --no-install-recommends heaptrack valgrind zstd \
 && rm -rf /var/lib/apt/lists/*
