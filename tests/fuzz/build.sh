#!/bin/sh
# Build the JSON and model card fuzz targets into a directory:
#
#   tests/fuzz/build.sh OUTDIR
#
# Makes OUTDIR/fuzz_json and OUTDIR/fuzz_modelcard (libFuzzer, with
# AddressSanitizer and UndefinedBehaviorSanitizer) and OUTDIR/replay_json and
# OUTDIR/replay_modelcard (the same code with the sanitizers but without
# libFuzzer, to replay a corpus or a crash file). Needs clang with libFuzzer
# (Debian: clang and libclang-rt-dev) and FFmpeg's libavutil (pkg-config).
# CC overrides the compiler (default clang).
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
cc=${CC:-clang}
mkdir -p "$out"

# The library code the targets need: the parsers and the helpers they use
# (strings, error messages, logging).
lib="$root/lib/json.c $root/lib/modelcard.c $root/lib/util.c $root/lib/error.c $root/lib/log.c"
flags="-std=c11 -g -O1 -D_GNU_SOURCE -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter
       -I$root/include -I$root/lib"
avutil=$(pkg-config --cflags --libs libavutil)
# Abort on undefined behaviour so that libFuzzer records it as a crash.
sanitize="address,undefined -fno-sanitize-recover=undefined"

for target in json modelcard; do
    # shellcheck disable=SC2086 # word splitting of the flag lists is intended
    $cc $flags -fsanitize=fuzzer,$sanitize "$root/tests/fuzz/fuzz_$target.c" $lib $avutil -lm -pthread \
        -o "$out/fuzz_$target"
    # shellcheck disable=SC2086
    $cc $flags -fsanitize=$sanitize "$root/tests/fuzz/fuzz_$target.c" "$root/tests/fuzz/replay_main.c" \
        $lib $avutil -lm -pthread -o "$out/replay_$target"
    echo "built $out/fuzz_$target and $out/replay_$target"
done
