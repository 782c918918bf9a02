#!/bin/sh
# Build the fuzz targets into a directory:
#
#   tests/fuzz/build.sh OUTDIR [LIBVSR_BUILD_DIR]
#
# Makes OUTDIR/fuzz_modelcard (libFuzzer, with AddressSanitizer and
# UndefinedBehaviorSanitizer) and OUTDIR/replay_modelcard (the same code with the sanitizers but without
# libFuzzer, to replay a corpus or a crash file). Needs clang with libFuzzer
# (Debian: clang and libclang-rt-dev) and FFmpeg's libavutil (pkg-config).
# CC overrides the compiler (default clang).
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 OUTDIR [LIBVSR_BUILD_DIR]" >&2
    exit 2
fi
out=$1
# the CLI target links the built libvsr.so (its own parsing code is what is
# instrumented); the default is the main build directory
build=$(cd "${2:-$(dirname "$0")/../../build}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
cc=${CC:-clang}
mkdir -p "$out"

# The library code the targets need: the parsers and the helpers they use
# (strings, error messages, logging). The model card is read through
# jansson (Debian's, not instrumented: the card code around it is).
helpers="$root/lib/util.c $root/lib/error.c $root/lib/log.c"
lib_modelcard="$root/lib/jsontext.c $root/lib/modelcard.c $helpers $(pkg-config --cflags --libs jansson)"
flags="-std=c11 -g -O1 -D_GNU_SOURCE -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter
       -I$root/include -I$root/lib"
avutil=$(pkg-config --cflags --libs libavutil)
# Abort on undefined behaviour so that libFuzzer records it as a crash.
sanitize="address,undefined -fno-sanitize-recover=undefined"

for target in modelcard; do
    eval "lib=\$lib_$target"
    # shellcheck disable=SC2086 # word splitting of the flag lists is intended
    $cc $flags -fsanitize=fuzzer,$sanitize "$root/tests/fuzz/fuzz_$target.c" $lib $avutil -lm -pthread \
        -o "$out/fuzz_$target"
    # shellcheck disable=SC2086
    $cc $flags -fsanitize=$sanitize "$root/tests/fuzz/fuzz_$target.c" "$root/tests/fuzz/replay_main.c" \
        $lib $avutil -lm -pthread -o "$out/replay_$target"
    echo "built $out/fuzz_$target and $out/replay_$target"
done

# (3) the input path: bytes in memory -> demux -> decode -> float RGB. The
# library sources it needs are compiled in with the sanitizers; FFmpeg is
# Debian's (not instrumented, but its crashes show too).
input_src="$root/lib/decode.c $root/lib/frame.c $root/lib/convert.c $root/lib/util.c $root/lib/error.c $root/lib/log.c"
ffmpeg=$(pkg-config --cflags --libs libavformat libavcodec libswscale libavutil)
# shellcheck disable=SC2086
$cc $flags -I"$build" -fsanitize=fuzzer,$sanitize "$root/tests/fuzz/fuzz_input.c" $input_src $ffmpeg -lm -pthread \
    -o "$out/fuzz_input"
# shellcheck disable=SC2086
$cc $flags -I"$build" -fsanitize=$sanitize "$root/tests/fuzz/fuzz_input.c" "$root/tests/fuzz/replay_main.c" \
    $input_src $ffmpeg -lm -pthread -o "$out/replay_input"
echo "built $out/fuzz_input and $out/replay_input"

# (4) vsr-cli's option parsing, compiled without its main().
cli_src="-DVSR_CLI_NO_MAIN $root/examples/vsr-cli.c $root/examples/cli_options.c -I$root/examples"
libvsr="-L$build/lib -lvsr -Wl,-rpath,$build/lib"
# shellcheck disable=SC2086
$cc $flags -fsanitize=fuzzer,$sanitize "$root/tests/fuzz/fuzz_cli.c" $cli_src $libvsr -lm -o "$out/fuzz_cli"
# shellcheck disable=SC2086
$cc $flags -fsanitize=$sanitize "$root/tests/fuzz/fuzz_cli.c" "$root/tests/fuzz/replay_main.c" $cli_src $libvsr \
    -lm -o "$out/replay_cli"
echo "built $out/fuzz_cli and $out/replay_cli"
