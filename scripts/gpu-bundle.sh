#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU machine that has no Node and no network into .gpu/
# (git-ignored): this machine's Node binary, node_modules and the compiled lib/, each xz-compressed.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/setup.js --quiet
mkdir -p .gpu
xz -T0 -6 -c "$(command -v node)" > .gpu/node.xz
tar -cf - node_modules lib | xz -T0 -6 > .gpu/deps.tar.xz
du -sh .gpu/*
