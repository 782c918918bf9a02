/*
 * vsr-cli: upscale a video file with libvsr. A thin program over the
 * public header: parse options, open a session, run vsr_upscale_file(),
 * show progress, export statistics. With --plan it runs a job cut into
 * segments (job.h): plan it, run one segment (a Slurm array task), stitch,
 * or print where it stands.
 *
 * Exit codes: 0 done; 1 failed (no output left); 2 bad command line;
 * 3 input damaged (the output holds every frame that could be decoded);
 * 4 incomplete (stitch: segments are missing, the message lists them);
 * 130 interrupted (the output is finished up to the last frame written).
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvsr/vsr.h>

#include "cli_compare.h"
#include "cli_options.h"
#include "cli_progress.h"
#include "heap.h"

#ifndef VSR_DATADIR
#define VSR_DATADIR "/usr/local/share/libvsr"
#endif
#ifndef VSR_SOURCE_MODELDIR
#define VSR_SOURCE_MODELDIR "models"
#endif

#define DEFAULT_MODEL "realesr-animevideov3-x2.pt"

enum { EXIT_DAMAGED = 3, EXIT_INCOMPLETE = 4, EXIT_INTERRUPTED = 130, EXIT_USAGE = 2 };

/* What a run with --plan does. */
typedef enum job_action { JOB_NONE, JOB_PLAN, JOB_SEGMENT, JOB_STITCH, JOB_STATUS } job_action;

typedef struct cli {
    const char *input, *output, *model;
    vsr_process_settings ps;
    vsr_model_settings ms;
    vsr_session_settings ss;
    vsr_output_settings os;
    vsr_input_settings is;
    vsr_run_settings rs;
    const char *stats_json, *stats_csv, *stats_prom;
    vsr_granularity granularity;
    int sampler_ms;
    int quiet, verbose;
    int print_recommended;
    int print_info;
    const char *plan;        /* --plan */
    job_action action;
    int64_t segment;         /* --segment K */
    vsr_job_settings js;
    const char *device;      /* --device as given (NULL: not given) */
    const char *settings_opt; /* the first option that sets what a plan pins (refused with a plan's
                                 --segment, --stitch, --status: they take it from the plan) */
    /* FFmpeg's conventions */
    cli_position seek, to, dur;  /* -ss, -to, -t (frames or microseconds) */
    int has_seek, has_to, has_dur;
    int no_overwrite;            /* -n */
    const char *progress;        /* -progress TARGET */
    const char *compare;         /* --compare FILE.png */
    int64_t compare_frame;       /* --compare-frame N (-1: the middle frame) */
} cli;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vsr-cli -i INPUT -o OUTPUT [options]\n"
            "\n"
            "Upscale a video with a neural network (libvsr %s).\n"
            "\n"
            "Model and device:\n"
            "  -m, --model FILE        TorchScript model with a libvsr card (default: %s)\n"
            "      --device DEV        cpu (default), cuda, cuda:N, auto\n"
            "      --precision P       auto (default), fp32, bf16, fp16\n"
            "      --threads N         inference threads (0 = auto)\n"
            "      --batch N|auto      frames per forward pass\n"
            "      --cuda-graph        CUDA: replay fixed-shape passes as CUDA graphs\n"
            "      --no-cache          measure the auto precision now (no start-up cache)\n"
            "Chunks and tiles:\n"
            "      --chunk N|auto      temporal chunk length (sequence models)\n"
            "      --overlap N|auto    frames shared by neighbouring chunks\n"
            "      --tile N|auto|0     tile size in input pixels (0 = whole frames)\n"
            "      --tile-pad N|auto   context around each tile\n"
            "      --tile-blend        feather tile overlaps\n"
            "      --chunk-blend       cross-fade chunk overlaps\n"
            "      --mem-limit SIZE    memory for inference, e.g. 2G (default: auto)\n"
            "Part of the input (FFmpeg's options; a time is [HH:]MM:SS[.m...] or seconds,\n"
            "or a frame count with an f suffix: 48f):\n"
            "  -ss POS                 start at this position (the output starts at 0)\n"
            "  -to POS                 stop before this position\n"
            "  -t DURATION             keep this much (from -ss; wins over -to)\n"
            "Output:\n"
            "  -y                      overwrite the output if it exists (the default)\n"
            "  -n                      never overwrite: fail if the output exists\n"
            "      --codec NAME        libx264 (default), libx265, prores_ks, ffv1, ...\n"
            "      --crf N             quality for x264/x265 (default 18)\n"
            "      --preset P          x264/x265 preset (default medium)\n"
            "      --pix-fmt FMT       encoder pixel format (default: from the input)\n"
            "      --encoder-options S extra encoder options 'key=value;key=value'\n"
            "      --no-copy-streams   do not copy audio, subtitles and attachments\n"
            "Running:\n"
            "      --serial            run the stages one after another (default: pipelined)\n"
            "      --queue-depth N     frames per pipeline queue (default 4)\n"
            "      --resume            continue an interrupted run of the same job\n"
            "      --hwdec cuda|none   hardware decoding\n"
            "      --max-frames N      stop after N frames\n"
            "      --max-size WxH      refuse inputs larger than this (default 16384x16384)\n"
            "Progress and statistics:\n"
            "  -progress TARGET        FFmpeg's key=value progress blocks to pipe:1, pipe:2,\n"
            "                          tcp://HOST:PORT or a file\n"
            "      --compare FILE.png  bicubic and model side by side, one output frame\n"
            "      --compare-frame N   the frame for --compare (default: the middle one)\n"
            "      --stats-json FILE   statistics and history as JSON\n"
            "      --stats-csv FILE    one row per operation as CSV\n"
            "      --stats-prom FILE   statistics in Prometheus text format\n"
            "      --granularity G     operation (default), chunk or run\n"
            "      --sampler-ms N      resource sampling period (default 100, 0 = off)\n"
            "      --reference FILE    reference video of the output size: PSNR/SSIM\n"
            "Other:\n"
            "Scale-out (a job cut into segments, run by separate processes; see docs/scale-out.md):\n"
            "      --plan PLAN         the job's plan file, with one of:\n"
            "      --segment-frames N    with -i, -o and any settings above: write the plan,\n"
            "                            segments of about N frames\n"
            "      --segment K           run segment K (0-based; --device may choose the device)\n"
            "      --stitch              join the segments into the output (exit 4: some missing)\n"
            "      --status              print the job's state as JSON\n"
            "      --work-dir DIR      where segments go (default PLAN.work; shared by all workers)\n"
            "      --stitch-mode M     auto (default), copy (intra-only codecs), closed-gop\n"
            "      --index-decode      index the input by decoding it (odd or damaged inputs)\n"
            "      --print-recommended print the settings recommended for this machine\n"
            "      --info              print the session's resolved settings\n"
            "  -q, --quiet             errors only, no progress\n"
            "  -v, --verbose           more messages (twice: debug)\n"
            "      --version           print versions\n"
            "  -h, --help              this text\n",
            vsr_version_string(), DEFAULT_MODEL);
}

enum {
    OPT_DEVICE = 256, OPT_CUDA_GRAPH, OPT_PRECISION, OPT_THREADS, OPT_BATCH, OPT_CHUNK, OPT_OVERLAP, OPT_TILE,
    OPT_TILE_PAD, OPT_TILE_BLEND, OPT_CHUNK_BLEND, OPT_MEM_LIMIT, OPT_CODEC, OPT_CRF, OPT_PRESET, OPT_PIX_FMT, OPT_ENC_OPTS,
    OPT_NO_COPY, OPT_SERIAL, OPT_QUEUE, OPT_RESUME, OPT_HWDEC, OPT_MAX_FRAMES, OPT_MAX_SIZE, OPT_STATS_JSON,
    OPT_STATS_CSV, OPT_STATS_PROM, OPT_GRANULARITY, OPT_SAMPLER, OPT_REFERENCE, OPT_RECOMMEND, OPT_INFO,
    OPT_VERSION, OPT_NO_CACHE, OPT_PLAN, OPT_SEGMENT_FRAMES, OPT_SEGMENT, OPT_STITCH, OPT_STATUS, OPT_WORK_DIR,
    OPT_STITCH_MODE, OPT_INDEX_DECODE,
    OPT_SS, OPT_TO, OPT_T, OPT_PROGRESS, OPT_COMPARE, OPT_COMPARE_FRAME,
};

static const struct option long_options[] = {
    {"input", required_argument, NULL, 'i'},
    {"output", required_argument, NULL, 'o'},
    {"model", required_argument, NULL, 'm'},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"cuda-graph", no_argument, NULL, OPT_CUDA_GRAPH},
    {"precision", required_argument, NULL, OPT_PRECISION},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"chunk", required_argument, NULL, OPT_CHUNK},
    {"overlap", required_argument, NULL, OPT_OVERLAP},
    {"tile", required_argument, NULL, OPT_TILE},
    {"tile-pad", required_argument, NULL, OPT_TILE_PAD},
    {"tile-blend", no_argument, NULL, OPT_TILE_BLEND},
    {"chunk-blend", no_argument, NULL, OPT_CHUNK_BLEND},
    {"mem-limit", required_argument, NULL, OPT_MEM_LIMIT},
    {"codec", required_argument, NULL, OPT_CODEC},
    {"crf", required_argument, NULL, OPT_CRF},
    {"preset", required_argument, NULL, OPT_PRESET},
    {"pix-fmt", required_argument, NULL, OPT_PIX_FMT},
    {"encoder-options", required_argument, NULL, OPT_ENC_OPTS},
    {"no-copy-streams", no_argument, NULL, OPT_NO_COPY},
    {"serial", no_argument, NULL, OPT_SERIAL},
    {"queue-depth", required_argument, NULL, OPT_QUEUE},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"hwdec", required_argument, NULL, OPT_HWDEC},
    {"max-frames", required_argument, NULL, OPT_MAX_FRAMES},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"stats-json", required_argument, NULL, OPT_STATS_JSON},
    {"stats-csv", required_argument, NULL, OPT_STATS_CSV},
    {"stats-prom", required_argument, NULL, OPT_STATS_PROM},
    {"granularity", required_argument, NULL, OPT_GRANULARITY},
    {"sampler-ms", required_argument, NULL, OPT_SAMPLER},
    {"reference", required_argument, NULL, OPT_REFERENCE},
    {"print-recommended", no_argument, NULL, OPT_RECOMMEND},
    {"info", no_argument, NULL, OPT_INFO},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"plan", required_argument, NULL, OPT_PLAN},
    {"segment-frames", required_argument, NULL, OPT_SEGMENT_FRAMES},
    {"segment", required_argument, NULL, OPT_SEGMENT},
    {"stitch", no_argument, NULL, OPT_STITCH},
    {"status", no_argument, NULL, OPT_STATUS},
    {"work-dir", required_argument, NULL, OPT_WORK_DIR},
    {"stitch-mode", required_argument, NULL, OPT_STITCH_MODE},
    {"index-decode", no_argument, NULL, OPT_INDEX_DECODE},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"help", no_argument, NULL, 'h'},
    /* FFmpeg's single-dash names (getopt_long_only: -ss, -to, -t, -progress) */
    {"ss", required_argument, NULL, OPT_SS},
    {"to", required_argument, NULL, OPT_TO},
    {"t", required_argument, NULL, OPT_T},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"compare", required_argument, NULL, OPT_COMPARE},
    {"compare-frame", required_argument, NULL, OPT_COMPARE_FRAME},
    {NULL, 0, NULL, 0},
};

static int set_action(cli *c, job_action a, const char *opt, char *err, size_t errlen)
{
    if (c->action != JOB_NONE && c->action != a) {
        snprintf(err, errlen, "%s: only one of --segment-frames, --segment, --stitch and --status at a time", opt);
        return -1;
    }
    c->action = a;
    return 0;
}

/* --plan goes with exactly one action; only planning takes settings. */
static int check_job_options(const cli *c, char *err, size_t errlen)
{
    if (!c->plan) {
        snprintf(err, errlen, "--segment-frames, --segment, --stitch and --status need --plan PLAN");
        return -1;
    }
    if (c->action == JOB_NONE) {
        snprintf(err, errlen, "--plan needs one of --segment-frames N (with -i and -o), --segment K, --stitch, "
                              "--status");
        return -1;
    }
    if (c->action == JOB_PLAN && (!c->input || !c->output)) {
        snprintf(err, errlen, "planning (--segment-frames) needs -i INPUT and -o OUTPUT");
        return -1;
    }
    if (c->action != JOB_PLAN && c->settings_opt) {
        snprintf(err, errlen, "%s: --segment, --stitch and --status take input, output, model and settings from the "
                              "plan (only --device may be given, for --segment)", c->settings_opt);
        return -1;
    }
    if (c->action != JOB_SEGMENT && c->action != JOB_PLAN && c->device) {
        snprintf(err, errlen, "--device: --stitch and --status run no model");
        return -1;
    }
    if (c->has_seek || c->has_to || c->has_dur || c->progress || c->compare) {
        snprintf(err, errlen, "%s does not go with --plan (a job runs the whole input, and reports progress "
                              "through --status)", c->has_seek ? "-ss" : c->has_to ? "-to" : c->has_dur ? "-t"
                                                 : c->progress ? "-progress" : "--compare");
        return -1;
    }
    if (c->print_recommended || c->rs.resume || c->rs.reference_path) {
        snprintf(err, errlen, "%s does not go with --plan", c->print_recommended ? "--print-recommended"
                                                             : c->rs.resume       ? "--resume"
                                                                                  : "--reference");
        return -1;
    }
    return 0;
}

/* -ss, -to and -t as the run's range (vsr_run_settings start/end): -t
 * counts from -ss, in the same unit, and wins over -to (as in FFmpeg). */
static int resolve_range(cli *c, char *err, size_t errlen)
{
    vsr_run_settings *rs = &c->rs;
    if (c->has_seek)
        *(c->seek.frames ? &rs->start_frame : &rs->start_us) = c->seek.value;
    if (c->has_dur) {
        if (c->has_seek && c->seek.frames != c->dur.frames) {
            snprintf(err, errlen, "-t %s needs -ss %s too (or -to, an absolute position)",
                     c->dur.frames ? "in frames" : "as a time", c->dur.frames ? "in frames" : "as a time");
            return -1;
        }
        if (c->dur.value <= 0) {
            snprintf(err, errlen, "-t: the duration must be more than 0");
            return -1;
        }
        int64_t from = c->has_seek ? c->seek.value : 0;
        *(c->dur.frames ? &rs->end_frame : &rs->end_us) = from + c->dur.value;
        if (c->has_to)
            fprintf(stderr, "vsr-cli: -to is ignored: -t is set\n");
    } else if (c->has_to) {
        if (c->has_seek && c->seek.frames == c->to.frames && c->to.value <= c->seek.value) {
            snprintf(err, errlen, "-to must be after -ss: the range is empty");
            return -1;
        }
        *(c->to.frames ? &rs->end_frame : &rs->end_us) = c->to.value;
    }
    return 0;
}

/* Parse argv into c. Returns 0, 1 to exit successfully (help, version),
 * or -1 with the message printed. Also used by the fuzz target. */
int vsr_cli_parse(cli *c, int argc, char **argv, char *err, size_t errlen);

int vsr_cli_parse(cli *c, int argc, char **argv, char *err, size_t errlen)
{
    static const char *const precisions[] = {"auto", "fp32", "bf16", "fp16"};
    static const char *const granularities[] = {"operation", "chunk", "run"};
    static const char *const stitch_modes[] = {"auto", "copy", "closed-gop"};
    const int64_t auto_v = VSR_AUTO;
    memset(c, 0, sizeof(*c));
    vsr_process_settings_default(&c->ps);
    vsr_model_settings_default(&c->ms);
    vsr_session_settings_default(&c->ss);
    vsr_output_settings_default(&c->os);
    vsr_input_settings_default(&c->is);
    vsr_run_settings_default(&c->rs);
    vsr_job_settings_default(&c->js);
    c->sampler_ms = 100;
    c->granularity = VSR_GRANULARITY_OPERATION;
    optind = 0; /* 0, not 1: GNU getopt then starts afresh (the fuzz target parses many argv) */
    opterr = 0;
    int opt;
    int64_t v;
    int choice;
    err[0] = 0;
    c->compare_frame = -1;
    int overwrite_opt = 0;
    while ((opt = getopt_long_only(argc, argv, ":i:o:m:qvhyn", long_options, NULL)) != -1) {
        int bad = 0;
        /* options that set what a plan pins (all but device, job, statistics and messages) */
        int pinned = opt == 'i' || opt == 'o' || opt == 'm' || (opt >= OPT_CUDA_GRAPH && opt <= OPT_MAX_SIZE) ||
                     opt == OPT_REFERENCE || opt == OPT_WORK_DIR || opt == OPT_STITCH_MODE || opt == OPT_INDEX_DECODE;
        if (pinned && !c->settings_opt)
            c->settings_opt = argv[optind - 1];
        switch (opt) {
        case 'i': c->input = optarg; break;
        case 'o': c->output = optarg; break;
        case 'm': c->model = optarg; break;
        case OPT_DEVICE: c->ms.device = c->device = optarg; break;
        case OPT_CUDA_GRAPH: c->ms.cuda_graph = 1; break;
        case OPT_NO_CACHE: c->ms.cache = 0; break;
        case OPT_PRECISION:
            bad = cli_parse_choice("--precision", optarg, precisions, 4, &choice, err, errlen);
            c->ms.precision = (vsr_precision)choice;
            break;
        case OPT_THREADS:
            bad = cli_parse_int("--threads", optarg, 0, 1024, NULL, &v, err, errlen);
            c->ps.threads = (int)v;
            break;
        case OPT_BATCH:
            bad = cli_parse_int("--batch", optarg, 1, 256, &auto_v, &v, err, errlen);
            c->ss.batch = (int)v;
            break;
        case OPT_CHUNK:
            bad = cli_parse_int("--chunk", optarg, 1, 4096, &auto_v, &v, err, errlen);
            c->ss.chunk = (int)v;
            break;
        case OPT_OVERLAP:
            bad = cli_parse_int("--overlap", optarg, 0, 4095, &auto_v, &v, err, errlen);
            c->ss.overlap = (int)v;
            break;
        case OPT_TILE:
            bad = cli_parse_int("--tile", optarg, 0, 65536, &auto_v, &v, err, errlen);
            c->ss.tile = (int)v;
            break;
        case OPT_TILE_PAD:
            bad = cli_parse_int("--tile-pad", optarg, 0, 1024, &auto_v, &v, err, errlen);
            c->ss.tile_pad = (int)v;
            break;
        case OPT_TILE_BLEND: c->ss.tile_blend = 1; break;
        case OPT_CHUNK_BLEND: c->ss.chunk_blend = 1; break;
        case OPT_MEM_LIMIT:
            bad = cli_parse_size("--mem-limit", optarg, &v, err, errlen);
            c->ss.mem_limit = v;
            break;
        case OPT_CODEC: c->os.codec = optarg; break;
        case OPT_CRF:
            bad = cli_parse_int("--crf", optarg, 0, 63, NULL, &v, err, errlen);
            c->os.crf = (int)v;
            break;
        case OPT_PRESET: c->os.preset = optarg; break;
        case OPT_PIX_FMT: c->os.pix_fmt = optarg; break;
        case OPT_ENC_OPTS: c->os.options = optarg; break;
        case OPT_NO_COPY: c->os.copy_streams = 0; break;
        case OPT_SERIAL: c->rs.pipelined = 0; break;
        case OPT_QUEUE:
            bad = cli_parse_int("--queue-depth", optarg, 1, 1024, NULL, &v, err, errlen);
            c->rs.queue_depth = (int)v;
            break;
        case OPT_RESUME: c->rs.resume = 1; break;
        case OPT_HWDEC: c->is.hwdec = optarg; break;
        case OPT_MAX_FRAMES:
            bad = cli_parse_int("--max-frames", optarg, 0, INT64_MAX, NULL, &v, err, errlen);
            c->is.max_frames = v;
            break;
        case OPT_MAX_SIZE: {
            int w = 0, h = 0, n = 0;
            if (sscanf(optarg, "%dx%d%n", &w, &h, &n) != 2 || optarg[n] || w < 1 || h < 1) {
                snprintf(err, errlen, "--max-size: '%s' is not WIDTHxHEIGHT", optarg);
                bad = -1;
            } else {
                c->is.max_width = w;
                c->is.max_height = h;
                c->is.max_pixels = (int64_t)w * h;
            }
            break;
        }
        case OPT_STATS_JSON: c->stats_json = optarg; break;
        case OPT_STATS_CSV: c->stats_csv = optarg; break;
        case OPT_STATS_PROM: c->stats_prom = optarg; break;
        case OPT_GRANULARITY:
            bad = cli_parse_choice("--granularity", optarg, granularities, 3, &choice, err, errlen);
            c->granularity = (vsr_granularity)choice;
            break;
        case OPT_SAMPLER:
            bad = cli_parse_int("--sampler-ms", optarg, 0, 60000, NULL, &v, err, errlen);
            c->sampler_ms = (int)v;
            break;
        case OPT_REFERENCE: c->rs.reference_path = optarg; break;
        case OPT_RECOMMEND: c->print_recommended = 1; break;
        case OPT_INFO: c->print_info = 1; break;
        case OPT_PLAN: c->plan = optarg; break;
        case OPT_SEGMENT_FRAMES:
            bad = cli_parse_int("--segment-frames", optarg, 1, INT64_MAX, NULL, &v, err, errlen);
            c->js.segment_frames = v;
            bad = bad || set_action(c, JOB_PLAN, "--segment-frames", err, errlen);
            break;
        case OPT_SEGMENT:
            bad = cli_parse_int("--segment", optarg, 0, INT64_MAX, NULL, &c->segment, err, errlen);
            bad = bad || set_action(c, JOB_SEGMENT, "--segment", err, errlen);
            break;
        case OPT_STITCH: bad = set_action(c, JOB_STITCH, "--stitch", err, errlen); break;
        case OPT_STATUS: bad = set_action(c, JOB_STATUS, "--status", err, errlen); break;
        case OPT_WORK_DIR: c->js.work_dir = optarg; break;
        case OPT_STITCH_MODE:
            bad = cli_parse_choice("--stitch-mode", optarg, stitch_modes, 3, &choice, err, errlen);
            c->js.stitch = (vsr_stitch_mode)choice;
            break;
        case OPT_INDEX_DECODE: c->js.index_decode = 1; break;
        case 'q': c->quiet = 1; break;
        case 'v': c->verbose++; break;
        case OPT_SS:
            bad = cli_parse_position("-ss", optarg, &c->seek, err, errlen);
            c->has_seek = 1;
            break;
        case OPT_TO:
            bad = cli_parse_position("-to", optarg, &c->to, err, errlen);
            c->has_to = 1;
            break;
        case OPT_T:
            bad = cli_parse_position("-t", optarg, &c->dur, err, errlen);
            c->has_dur = 1;
            break;
        case 'y':
        case 'n':
            if (overwrite_opt && overwrite_opt != opt) {
                snprintf(err, errlen, "-y (overwrite) and -n (never overwrite) contradict each other");
                return -1;
            }
            overwrite_opt = opt;
            c->no_overwrite = opt == 'n';
            c->os.overwrite = opt == 'y';
            break;
        case OPT_PROGRESS: c->progress = optarg; break;
        case OPT_COMPARE: c->compare = optarg; break;
        case OPT_COMPARE_FRAME:
            bad = cli_parse_int("--compare-frame", optarg, 0, INT64_MAX, NULL, &c->compare_frame, err, errlen);
            break;
        case OPT_VERSION:
            printf("vsr-cli %s\n%s\n", vsr_version_string(), vsr_build_info());
            return 1;
        case 'h': usage(stdout); return 1;
        case ':':
            snprintf(err, errlen, "option %s needs a value", argv[optind - 1]);
            return -1;
        default:
            snprintf(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
            return -1;
        }
        if (bad)
            return -1;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s' (inputs and outputs take -i and -o)", argv[optind]);
        return -1;
    }
    if (c->plan || c->action != JOB_NONE)
        return check_job_options(c, err, errlen);
    if (!c->print_recommended && (!c->input || !c->output)) {
        snprintf(err, errlen, "both -i INPUT and -o OUTPUT are required (see --help)");
        return -1;
    }
    return resolve_range(c, err, errlen);
}

#ifndef VSR_CLI_NO_MAIN

/* Ctrl-C may come at any moment, also while the model loads, before a
 * session exists: the handler (on whichever thread the signal lands)
 * remembers it, and the session is cancelled as soon as there is one.
 * Lock-free atomics, so the handler is async-signal-safe. */
static atomic_int interrupted;
static _Atomic(vsr_session *) running_session;

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&interrupted, 1);
    vsr_session *ses = atomic_load(&running_session);
    if (ses)
        vsr_session_cancel(ses);
    /* a second Ctrl-C kills at once */
    signal(SIGINT, SIG_DFL);
}

/* The default model: $VSR_MODEL_DIR, the installed data directory, then
 * the source tree's models/ (for a program run from its build tree). */
static const char *find_default_model(char *buf, size_t cap)
{
    const char *dirs[3] = {getenv("VSR_MODEL_DIR"), VSR_DATADIR "/models", VSR_SOURCE_MODELDIR};
    for (int i = 0; i < 3; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        snprintf(buf, cap, "%s/%s", dirs[i], DEFAULT_MODEL);
        if (access(buf, R_OK) == 0)
            return buf;
    }
    return NULL;
}


static int stderr_is_tty;

static void log_to_stderr(void *user, int level, const char *msg)
{
    (void)user;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    /* keep the progress line intact */
    fprintf(stderr, "%svsr-cli: %s: %s\n", stderr_is_tty ? "\r\033[K" : "",
            names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

/* Milliseconds since the process started (the kernel's start time, in
 * clock ticks since boot: 10 ms steps), or -1. For -v's start-up steps,
 * the first of which (loading libvsr, libtorch and FFmpeg) ends before main. */
static double process_age_ms(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* field 2 (the name) may hold spaces: count the fields after its ')' */
    char *p = strrchr(buf, ')');
    unsigned long long start = 0;
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p + 1, "%llu", &start) != 1)
        return -1;
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    long ticks = sysconf(_SC_CLK_TCK);
    return ticks > 0 ? (ts.tv_sec + ts.tv_nsec / 1e9 - (double)start / ticks) * 1e3 : -1;
}

/* The stats line and -progress (cli_progress), and with -v the first
 * frame's time since the process started (the last start-up step). */
typedef struct progress_state {
    cli_progress pg;
    int verbose, first_frame_seen;
} progress_state;

static int on_progress(void *user, const vsr_progress *p)
{
    progress_state *ps = user;
    if (ps->verbose && !ps->first_frame_seen && p->frames_done > 0) {
        ps->first_frame_seen = 1;
        fprintf(stderr, "%svsr-cli: info: start-up: first frame done %.0f ms after the process started\n",
                stderr_is_tty ? "\r\033[K" : "", process_age_ms());
    }
    cli_progress_update(&ps->pg, p);
    return 0;
}
/* -progress and the stats line need the input's frame rate (the run
 * reports frames); -n refuses an existing output before the model loads. */
static int prepare_progress(const cli *c, cli_progress *pg)
{
    char err[512];
    if (cli_progress_open(pg, c->progress, err, sizeof(err)) < 0) {
        fprintf(stderr, "vsr-cli: %s\n", err);
        return -1;
    }
    pg->stats_line = stderr_is_tty && !c->quiet;
    pg->output = c->output;
    pg->frame_rate = 0;
    if (pg->out || pg->stats_line) {
        vsr_input *in = NULL;
        if (vsr_input_open(&in, c->input, &c->is) == 0) { /* a bad input is reported by the run itself */
            vsr_input_info info = {.size = sizeof(info)};
            if (vsr_input_get_info(in, &info) == 0 && info.frame_rate.den > 0)
                pg->frame_rate = (double)info.frame_rate.num / info.frame_rate.den;
            vsr_input_close(&in);
        }
    }
    return 0;
}

static int refuse_existing(const cli *c)
{
    const char *paths[2] = {c->output, c->compare};
    for (int i = 0; i < 2; i++)
        if (c->no_overwrite && paths[i] && access(paths[i], F_OK) == 0) {
            fprintf(stderr, "vsr-cli: '%s' already exists; not overwriting it (-n; -y overwrites)\n", paths[i]);
            return 1;
        }
    return 0;
}

static int write_compare(const cli *c)
{
    cli_compare_range r = {c->rs.start_frame, c->rs.start_us};
    char err[1024];
    if (cli_compare_write(c->compare, c->input, c->output, c->compare_frame, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "vsr-cli: %s\n", err);
        return 1;
    }
    if (!c->quiet)
        fprintf(stderr, "vsr-cli: wrote %s (bicubic | model)\n", c->compare);
    return 0;
}

static int print_recommended(const char *model)
{
    vsr_recommendation r;
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    int err = vsr_recommend_settings(model, &r);
    if (err < 0) {
        fprintf(stderr, "vsr-cli: %s\n", vsr_last_error()[0] ? vsr_last_error() : vsr_strerror(err));
        return 1;
    }
    printf("device      %s\nprecision   %s\nthreads     %d\nbatch       %d\nchunk       %d\n"
           "tile        %d\ntile-pad    %d\nmem-limit   %lld\n\nreasons:\n%s\n",
           r.device, vsr_precision_name(r.precision), r.threads, r.batch, r.chunk, r.tile, r.tile_pad,
           (long long)r.mem_limit, r.reasons);
    printf("\ncommand line: --device %s --precision %s --threads %d --batch %d --chunk %d --tile %d "
           "--tile-pad %d --mem-limit %lld\n",
           r.device, vsr_precision_name(r.precision), r.threads, r.batch, r.chunk, r.tile, r.tile_pad,
           (long long)r.mem_limit);
    return 0;
}

static int export_stats(const cli *c, vsr_tracker *tr)
{
    int bad = 0;
    const struct {
        const char *path;
        vsr_export_format fmt;
    } outs[] = {{c->stats_json, VSR_EXPORT_JSON}, {c->stats_csv, VSR_EXPORT_CSV}, {c->stats_prom, VSR_EXPORT_PROMETHEUS}};
    for (int i = 0; i < 3; i++) {
        if (outs[i].path && vsr_tracker_export(tr, outs[i].fmt, outs[i].path) < 0) {
            fprintf(stderr, "vsr-cli: %s\n", vsr_last_error());
            bad = 1;
        }
    }
    return bad;
}

static const char *stitch_name(vsr_stitch_mode m)
{
    return m == VSR_STITCH_COPY ? "copy" : m == VSR_STITCH_CLOSED_GOP ? "closed-gop" : "auto";
}

static int fail_msg(int ret)
{
    fprintf(stderr, "vsr-cli: %s\n", vsr_last_error()[0] ? vsr_last_error() : vsr_strerror(ret));
    return ret == VSR_ERROR_INCOMPLETE ? EXIT_INCOMPLETE : ret == VSR_ERROR_INPUT_DAMAGED ? EXIT_DAMAGED
                                                                                           : 1;
}

/* --status: the job as JSON on stdout. */
static int job_status(vsr_job *job, const char *plan)
{
    vsr_job_info info = {.size = sizeof(info)};
    int ret = vsr_job_get_info(job, &info);
    if (ret < 0)
        return fail_msg(ret);
    printf("{\n  \"plan\": \"");
    for (const char *p = plan; *p; p++) /* a JSON string */
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    printf("\",\n  \"segments\": %lld,\n  \"committed\": %lld,\n  \"frames\": %lld,\n  \"frames_done\": %lld,\n"
           "  \"stitch\": \"%s\",\n  \"complete\": %s,\n  \"segment\": [",
           (long long)info.segments, (long long)info.committed, (long long)info.frames, (long long)info.frames_done,
           stitch_name(info.stitch), info.committed == info.segments ? "true" : "false");
    for (int64_t k = 0; k < info.segments; k++) {
        vsr_job_segment seg = {.size = sizeof(seg)};
        if ((ret = vsr_job_get_segment(job, k, &seg)) < 0) {
            printf("]}\n");
            return fail_msg(ret);
        }
        printf("%s\n    {\"index\": %lld, \"first_frame\": %lld, \"frames\": %lld, \"feed_first\": %lld, "
               "\"feed_frames\": %lld, \"seek_frame\": %lld, \"state\": \"%s\"}",
               k ? "," : "", (long long)seg.index, (long long)seg.first_frame, (long long)seg.frames,
               (long long)seg.feed_first, (long long)seg.feed_frames, (long long)seg.seek_frame,
               seg.committed ? "committed" : "pending");
    }
    printf("\n  ]\n}\n");
    return 0;
}

/* --plan with an action. Returns the exit code. */
static int run_job(cli *c, vsr_tracker *tr, progress_state *ps)
{
    int ret, code = 0;
    if (c->action == JOB_PLAN) {
        /* the session as a plain run would open it: the plan pins what it resolves */
        c->ms.path = c->model;
        vsr_model *model = NULL;
        vsr_session *ses = NULL;
        ret = vsr_model_open(&model, &c->ms);
        c->ss.model = model;
        c->ss.tracker = tr;
        if (ret >= 0)
            ret = vsr_session_open(&ses, &c->ss);
        vsr_model_unref(&model);
        c->rs.input = &c->is;
        c->rs.output = &c->os;
        if (ret >= 0)
            ret = vsr_job_plan(ses, c->input, c->output, &c->rs, &c->js, c->plan);
        vsr_session_close(&ses);
        if (ret < 0)
            return fail_msg(ret);
    }
    vsr_job *job = NULL;
    if ((ret = vsr_job_open(&job, c->plan)) < 0)
        return fail_msg(ret);
    if (c->action == JOB_PLAN) {
        vsr_job_info info = {.size = sizeof(info)};
        ret = vsr_job_get_info(job, &info);
        if (ret < 0)
            code = fail_msg(ret);
        else if (!c->quiet)
            fprintf(stderr, "vsr-cli: plan %s: %lld frames in %lld segments (%lld committed), stitch %s\n", c->plan,
                    (long long)info.frames, (long long)info.segments, (long long)info.committed,
                    stitch_name(info.stitch));
    } else if (c->action == JOB_STATUS) {
        code = job_status(job, c->plan);
    } else if (c->action == JOB_STITCH) {
        vsr_run_result res = {.size = sizeof(res)};
        ret = vsr_job_stitch(job, &res);
        if (ret < 0)
            code = fail_msg(ret); /* 4 when segments are missing, 3 for a damaged input */
        else if (!c->quiet)
            fprintf(stderr, "vsr-cli: stitched %lld frames in %.1f s\n", (long long)res.frames_written, res.seconds);
    } else {
        vsr_session *ses = NULL;
        ret = vsr_job_open_session(job, c->device, NULL, tr, &ses);
        if (ret < 0) {
            vsr_job_close(&job);
            return fail_msg(ret);
        }
        atomic_store(&running_session, ses);
        if (atomic_load(&interrupted))
            vsr_session_cancel(ses);
        vsr_run_result res = {.size = sizeof(res)};
        ret = vsr_job_run_segment(job, ses, c->segment, &res);
        signal(SIGINT, SIG_DFL);
        atomic_store(&running_session, NULL);
        cli_progress_end(&ps->pg, res.frames_written, res.seconds);
        if (ret == 0 && !c->quiet)
            fprintf(stderr, "vsr-cli: segment %lld: %lld frames committed in %.1f s (%.2f fps)\n",
                    (long long)c->segment, (long long)res.frames_written, res.seconds, res.fps);
        else if (ret == VSR_ERROR_CANCELLED)
            code = (fprintf(stderr, "vsr-cli: interrupted: %s\n", vsr_last_error()), EXIT_INTERRUPTED);
        else if (ret < 0)
            code = fail_msg(ret);
        vsr_session_close(&ses);
    }
    vsr_job_close(&job);
    return code;
}

int main(int argc, char **argv)
{
    app_keep_large_blocks();
    stderr_is_tty = isatty(2);
    if (vsr_version() >> 8 != VSR_API_VERSION >> 8) {
        fprintf(stderr, "vsr-cli: built for libvsr %d.%d but runs with %s\n", VSR_API_VERSION_MAJOR,
                VSR_API_VERSION_MINOR, vsr_version_string());
        return 1;
    }
    cli c;
    char err[512];
    int r = vsr_cli_parse(&c, argc, argv, err, sizeof(err));
    if (r > 0)
        return 0;
    if (r < 0) {
        fprintf(stderr, "vsr-cli: %s\n", err);
        return EXIT_USAGE;
    }
    vsr_log_set_callback(log_to_stderr, NULL);
    vsr_log_set_level(c.quiet ? VSR_LOG_ERROR : c.verbose >= 2 ? VSR_LOG_DEBUG : c.verbose ? VSR_LOG_INFO
                                                                                         : VSR_LOG_WARNING);
    if (c.verbose && !c.quiet)
        fprintf(stderr, "vsr-cli: info: start-up: libraries loaded, main() %.0f ms after the process started\n",
                process_age_ms());
    vsr_log_capture_ffmpeg(1);
    char model_buf[4096];
    if (!c.model)
        c.model = find_default_model(model_buf, sizeof(model_buf));
    if (c.print_recommended)
        return print_recommended(c.model);
    if (!c.model && (!c.plan || c.action == JOB_PLAN)) {
        fprintf(stderr, "vsr-cli: no model given and %s not found in $VSR_MODEL_DIR, %s/models or %s "
                        "(run scripts/fetch-models, or pass -m MODEL.pt)\n",
                DEFAULT_MODEL, VSR_DATADIR, VSR_SOURCE_MODELDIR);
        return 1;
    }
    if (refuse_existing(&c))
        return 1;
    /* A full disk or file-size limit must come back as a write error, not kill us. */
    signal(SIGXFSZ, SIG_IGN);
    /* from here on a Ctrl-C is never lost (loading the model takes a while) */
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    if (vsr_process_configure(&c.ps) < 0) {
        fprintf(stderr, "vsr-cli: %s\n", vsr_last_error());
        return 1;
    }

    vsr_tracker_settings ts;
    vsr_tracker_settings_default(&ts);
    ts.granularity = c.granularity;
    ts.sampler_interval_ms = c.sampler_ms;
    vsr_tracker *tr = NULL;
    if (vsr_tracker_open(&tr, &ts) < 0) {
        fprintf(stderr, "vsr-cli: %s\n", vsr_last_error());
        return 1;
    }
    progress_state ps = {.verbose = c.verbose && !c.quiet};
    cli_progress *pg = &ps.pg;
    if (prepare_progress(&c, pg) < 0) {
        vsr_tracker_unref(&tr);
        return 1;
    }
    if (pg->out) /* a reader that goes away must not kill the run */
        signal(SIGPIPE, SIG_IGN);
    vsr_tracker_set_progress_callback(tr, on_progress, &ps);
    if (c.plan) {
        int code = run_job(&c, tr, &ps);
        if (export_stats(&c, tr) && !code)
            code = 1;
        vsr_tracker_unref(&tr);
        return code;
    }

    c.ms.path = c.model;
    vsr_model *model = NULL;
    int ret = vsr_model_open(&model, &c.ms);
    c.ss.model = model;
    c.ss.tracker = tr;
    vsr_session *ses = NULL;
    if (ret >= 0)
        ret = vsr_session_open(&ses, &c.ss);
    vsr_model_unref(&model); /* the session holds its own reference */
    if (ret < 0) {
        fprintf(stderr, "vsr-cli: %s\n", vsr_last_error()[0] ? vsr_last_error() : vsr_strerror(ret));
        /* the failure still belongs in the statistics */
        vsr_op_record rec;
        memset(&rec, 0, sizeof(rec));
        rec.size = sizeof(rec);
        rec.type = VSR_OP_RUN;
        rec.strategy = c.model;
        rec.error_code = ret;
        rec.error_message = vsr_last_error();
        rec.quality = NAN;
        rec.peak_rss_bytes = rec.peak_device_bytes = -1;
        vsr_tracker_record(tr, &rec);
        export_stats(&c, tr);
        vsr_tracker_unref(&tr);
        cli_progress_close(pg);
        return 1;
    }
    if (c.print_info || c.verbose) {
        vsr_session_info si = {.size = sizeof(si)};
        vsr_session_get_info(ses, &si);
        fprintf(stderr, "vsr-cli: device %s, precision %s, threads %d, batch %d, chunk %d, overlap %d, tile %d, "
                        "tile pad %d, x%d\n",
                si.device, vsr_precision_name(si.precision), si.threads, si.batch, si.chunk, si.overlap, si.tile,
                si.tile_pad, si.scale);
    }
    c.rs.input = &c.is;
    c.rs.output = &c.os;
    atomic_store(&running_session, ses);
    /* a Ctrl-C while the model loaded: the run stops at its start, with
     * no output, and says it was cancelled */
    if (atomic_load(&interrupted))
        vsr_session_cancel(ses);
    vsr_run_result res = {.size = sizeof(res)};
    ret = vsr_upscale_file(ses, c.input, c.output, &c.rs, &res);
    signal(SIGINT, SIG_DFL);
    atomic_store(&running_session, NULL);
    cli_progress_end(pg, res.frames_written, res.seconds);
    cli_progress_close(pg);
    int code = 0;
    if (ret == 0) {
        if (!c.quiet)
            fprintf(stderr, "vsr-cli: wrote %lld frames to %s in %.1f s (%.2f fps)\n", (long long)res.frames_written,
                    c.output, res.seconds, res.fps);
    } else if (ret == VSR_ERROR_INPUT_DAMAGED) {
        fprintf(stderr, "vsr-cli: %s\n", vsr_last_error());
        code = EXIT_DAMAGED;
    } else if (ret == VSR_ERROR_CANCELLED) {
        fprintf(stderr, "vsr-cli: interrupted: %s\n", vsr_last_error());
        code = EXIT_INTERRUPTED;
    } else {
        fprintf(stderr, "vsr-cli: %s\n", vsr_last_error()[0] ? vsr_last_error() : vsr_strerror(ret));
        code = 1;
    }
    if (export_stats(&c, tr) && !code)
        code = 1;
    if (c.compare && (ret == 0 || ret == VSR_ERROR_INPUT_DAMAGED) && write_compare(&c) && !code)
        code = 1;
    vsr_session_close(&ses);
    vsr_tracker_unref(&tr);
    return code;
}

#endif /* VSR_CLI_NO_MAIN */
