# The gateway plus the leak tools, for `cargo xtask heap` and `memcheck`
# (profiles/gateway.yaml, `wrap.image`). `cargo xtask setup` builds it after
# runcost/gateway:dev. zstd makes heaptrack write .zst traces.
FROM runcost/gateway:dev
RUN apt-get update \
 && apt-get install -y --no-install-recommends heaptrack valgrind zstd \
 && rm -rf /var/lib/apt/lists/*
