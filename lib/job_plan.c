/*
 * The plan of a job (see job_internal.h): built from a session and run
 * settings, written and read as JSON ("libvsr-plan" version 1), compared.
 *
 * Every "auto" is resolved here, once: the session's chunk and tile for
 * the input's frame size, the model's precision (already resolved at
 * load), the process's inference threads, the encoder's codec and thread
 * count (x264 with other thread counts makes other bitstreams). A worker
 * that runs with these values computes what the planning process would.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "job_internal.h"
#include "jsonio.h"
#include "model_internal.h"
#include "process.h"
#include "range.h"
#include "session_internal.h"
#include "stream_internal.h"
#include "sysinfo.h"

#define PLAN_VERSION 1
/* Encoder threads when the settings leave them to the encoder: a number
 * (the same on every worker), what x264 uses on an ordinary machine. */
#define MAX_PINNED_ENCODER_THREADS 16

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* An absolute path for a file that may not exist yet (the output, the plan). */
static char *absolute_path(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return NULL;
    return vsri_str_printf("%s/%s", cwd, path);
}

/* ---- file identity -------------------------------------------------------- */

/* FNV-1a over the first and last MiB: cheap, and a re-encoded or replaced
 * file of the same size and time is still caught. */
static int hash_ends(const char *path, int64_t size, char out[17])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    uint64_t h = 1469598103934665603ull;
    unsigned char buf[65536];
    const int64_t mib = 1 << 20;
    int64_t starts[2] = {0, size > 2 * mib ? size - mib : mib};
    for (int part = 0; part < 2; part++) {
        if (fseeko(f, (off_t)starts[part], SEEK_SET) != 0)
            break;
        int64_t left = mib;
        size_t n;
        while (left > 0 && (n = fread(buf, 1, sizeof(buf) < (size_t)left ? sizeof(buf) : (size_t)left, f)) > 0) {
            for (size_t i = 0; i < n; i++)
                h = (h ^ buf[i]) * 1099511628211ull;
            left -= (int64_t)n;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return VSR_ERR(EIO);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}

int vsri_file_identify(const char *path, int with_hash, vsri_file_id *id)
{
    memset(id, 0, sizeof(*id));
    char real[PATH_MAX];
    struct stat st;
    if (!path || !realpath(path, real) || stat(real, &st) != 0)
        return vsri_error(VSR_ERROR_INPUT, "'%s' cannot be found: %s", path ? path : "(none)", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return vsri_error(VSR_ERROR_INPUT, "'%s' is not a file (a job needs files it can identify)", path);
    id->path = strdup(real);
    if (!id->path)
        return VSR_ENOMEM;
    id->size = (int64_t)st.st_size;
    id->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (with_hash) {
        int err = hash_ends(real, id->size, id->hash);
        if (err < 0) {
            vsri_file_id_clear(id);
            return vsri_error(VSR_ERROR_INPUT, "'%s' cannot be read to identify it: %s", path, vsr_strerror(err));
        }
    }
    return 0;
}

void vsri_file_id_clear(vsri_file_id *id)
{
    free(id->path);
    memset(id, 0, sizeof(*id));
}

/* What differs between two identities of one file ("" if nothing). */
static const char *id_change(const vsri_file_id *was, const vsri_file_id *now)
{
    if (strcmp(was->path, now->path) != 0)
        return "path";
    if (was->size != now->size)
        return "size";
    if (was->mtime_ns != now->mtime_ns)
        return "modification time";
    if (strcmp(was->hash, now->hash) != 0)
        return "content";
    return "";
}

/* ---- cutting ------------------------------------------------------------ */

int vsri_plan_cut(const vsri_chunker_config *cfg, int64_t total, int64_t segment_frames, int64_t **cuts,
                  int64_t *n)
{
    *cuts = NULL;
    *n = 0;
    if (total < 1 || segment_frames < 1)
        return vsri_error(VSR_EINVAL, "job: cannot cut %lld frames into segments of %lld", (long long)total,
                          (long long)segment_frames);
    int64_t cap = total / segment_frames + 2, count = 0;
    int64_t *c = malloc(sizeof(*c) * (size_t)(cap + 1));
    if (!c)
        return VSR_ENOMEM;
    c[0] = 0;
    for (int64_t first = 0; first < total;) {
        int64_t end = total;
        /* the grid cut nearest first+segment_frames, or the next one after
         * first when that is nearer first itself */
        for (int64_t near = first + segment_frames; near < total; near++) {
            int64_t cut = vsri_chunker_grid_cut(cfg, total, near);
            if (cut < 0) {
                free(c);
                return (int)cut;
            }
            if (cut == 0) /* the clip is one pass: no cut exists */
                break;
            if (cut > first) {
                end = cut;
                break;
            }
        }
        if (count + 1 >= cap) {
            int64_t *g = realloc(c, sizeof(*c) * (size_t)(2 * cap + 1));
            if (!g) {
                free(c);
                return VSR_ENOMEM;
            }
            c = g;
            cap *= 2;
        }
        c[++count] = end;
        first = end;
    }
    *cuts = c;
    *n = count;
    return 0;
}

/* ---- building ----------------------------------------------------------- */

void vsri_plan_free(vsri_plan **pp)
{
    if (!pp || !*pp)
        return;
    vsri_plan *p = *pp;
    *pp = NULL;
    free(p->path);
    free(p->id);
    vsri_file_id_clear(&p->input);
    vsri_file_id_clear(&p->model);
    free(p->output);
    free(p->work_dir);
    free(p->hwdec);
    free(p->codec);
    free(p->preset);
    free(p->pix_fmt);
    free(p->options);
    vsri_index_free(&p->index);
    free(p->seg);
    free(p);
}

static int random_id(char out[33])
{
    unsigned char b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, b, sizeof(b)) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)sizeof(b)) { /* no urandom: time and pid still differ between plans */
        uint64_t t = (uint64_t)vsri_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
        for (int i = 0; i < 16; i++, t = t * 6364136223846793005ull + 1442695040888963407ull)
            b[i] = (unsigned char)(t >> 56);
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

static const char *device_type_of(const char *device, char *buf, size_t cap)
{
    size_t n = strcspn(device, ":");
    snprintf(buf, cap, "%.*s", (int)n, device);
    return buf;
}

/* The stitch mode for a codec: packets of an intra-only codec join
 * anywhere, and a lossless one decodes to the same frames however its
 * segments start (FFV1's keyframe interval restarts with each); others
 * need each segment to start a closed GOP. */
static int resolve_stitch(vsr_stitch_mode asked, const char *codec, vsr_stitch_mode *mode)
{
    const AVCodec *c = avcodec_find_encoder_by_name(codec);
    const AVCodecDescriptor *d = c ? avcodec_descriptor_get(c->id) : NULL;
    /* H.264 says lossless as well as lossy (it has a lossless mode): only
     * a codec that is lossless alone counts */
    int intra = d && ((d->props & AV_CODEC_PROP_INTRA_ONLY) ||
                      ((d->props & AV_CODEC_PROP_LOSSLESS) && !(d->props & AV_CODEC_PROP_LOSSY)));
    if (asked == VSR_STITCH_AUTO) {
        *mode = intra ? VSR_STITCH_COPY : VSR_STITCH_CLOSED_GOP;
        return 0;
    }
    if (asked == VSR_STITCH_COPY && !intra)
        return vsri_error(VSR_EINVAL,
                          "job: stitch mode 'copy' needs an intra-only or lossless codec (ffv1, prores_ks, ...); %s is not: "
                          "use 'closed-gop'", codec);
    if (asked != VSR_STITCH_COPY && asked != VSR_STITCH_CLOSED_GOP)
        return vsri_error(VSR_EINVAL, "job: unknown stitch mode %d", (int)asked);
    *mode = asked;
    return 0;
}

static int encoder_threads_pinned(void)
{
    vsri_sysinfo si;
    int n = vsri_sysinfo_get(&si) >= 0 ? si.online_cores : 0;
    if (n < 1)
        n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_PINNED_ENCODER_THREADS ? MAX_PINNED_ENCODER_THREADS : n;
}

/* The container and codec can be written at the output path (a job fails
 * at planning, not at the stitch hours later). */
static int check_output(const vsri_plan *p)
{
    vsr_output_settings os = p->out;
    vsr_output *o = NULL;
    int err = vsr_output_open(&o, p->output, NULL, &os);
    vsr_output_close(&o); /* removes the .partial it made */
    return err;
}

int vsri_plan_build(vsri_plan **out, vsr_session *ses, const char *input, const char *output,
                    const vsr_run_settings *rs_in, const vsr_job_settings *js_in, const char *plan_path,
                    const char *work_dir)
{
    *out = NULL;
    vsr_run_settings rs;
    vsr_job_settings js;
    vsr_input_settings is;
    vsr_output_settings os;
    vsr_run_settings_default(&rs);
    vsr_job_settings_default(&js);
    vsr_input_settings_default(&is);
    vsr_output_settings_default(&os);
    int err = 0;
    if ((rs_in && (err = VSRI_SETTINGS_IN(&rs, rs_in, "vsr_run_settings")) < 0) ||
        (js_in && (err = VSRI_SETTINGS_IN(&js, js_in, "vsr_job_settings")) < 0) ||
        (rs.input && (err = VSRI_SETTINGS_IN(&is, rs.input, "vsr_input_settings")) < 0) ||
        (rs.output && (err = VSRI_SETTINGS_IN(&os, rs.output, "vsr_output_settings")) < 0))
        return err;
    if (vsri_range_is_set(&rs))
        return vsri_error(VSR_EINVAL, "job: a job runs the whole input; the run settings' range (start_us, end_us, "
                                      "start_frame, end_frame) must be unset");
    if (js.segment_frames < 1)
        return vsri_error(VSR_EINVAL, "job: segment_frames must be at least 1, got %lld", (long long)js.segment_frames);
    if (js.index_decode != 0 && js.index_decode != 1)
        return vsri_error(VSR_EINVAL, "job: index_decode must be 0 or 1, got %d", js.index_decode);
    if (os.threads < 0 || rs.queue_depth < 1 || rs.queue_depth > 1024)
        return vsri_error(VSR_EINVAL, "job: encoder threads must not be negative and the queue depth 1..1024");

    vsri_plan *p = calloc(1, sizeof(*p));
    char id[33];
    if (!p)
        return VSR_ENOMEM;
    random_id(id);
    p->id = strdup(id);
    p->created = (int64_t)time(NULL);
    p->path = absolute_path(plan_path);
    p->output = absolute_path(output);
    p->work_dir = work_dir ? absolute_path(work_dir) : vsri_str_printf("%s.work", plan_path);
    if (p->work_dir && p->work_dir[0] != '/') {
        char *abs = absolute_path(p->work_dir);
        free(p->work_dir);
        p->work_dir = abs;
    }
    if (!p->id || !p->path || !p->output || !p->work_dir) {
        err = VSR_ENOMEM;
        goto fail;
    }
    if ((err = vsri_file_identify(input, 1, &p->input)) < 0)
        goto fail;

    /* the model and the session, resolved */
    const vsr_model *m = vsri_session_model(ses);
    if ((err = vsri_file_identify(m->path, 0, &p->model)) < 0) {
        err = vsri_error(VSR_ERROR_MODEL, "job: the model file '%s' cannot be identified: %s", m->path,
                         vsr_last_error());
        goto fail;
    }
    vsri_strlcpy(p->model_name, m->card.name, sizeof(p->model_name));
    p->scale = m->card.scale;
    vsri_strlcpy(p->device, m->device, sizeof(p->device));
    device_type_of(m->device, p->device_type, sizeof(p->device_type));
    p->precision = m->precision;
    vsr_input *in = NULL;
    if ((err = vsr_input_open(&in, p->input.path, &is)) < 0)
        goto fail;
    vsr_input_info info = {.size = sizeof(info)};
    vsr_input_get_info(in, &info);
    vsr_input_close(&in);
    p->width = info.width;
    p->height = info.height;
    if ((err = vsri_session_chunker_config(ses, p->width, p->height, &p->chunker, &p->tile)) < 0)
        goto fail;
    vsr_session_info si = {.size = sizeof(si)};
    vsr_session_get_info(ses, &si);
    const vsr_session_settings *ss = vsri_session_settings(ses);
    p->batch = si.batch;
    p->chunk = p->chunker.mode == VSRI_CHUNK_SEQUENCE ? p->chunker.length
               : p->chunker.mode == VSRI_CHUNK_WINDOW ? p->chunker.window : 1;
    p->overlap = si.overlap;
    p->tile_pad = si.tile_pad;
    p->tile_blend = ss->tile_blend;
    p->chunk_blend = ss->chunk_blend;
    p->mem_limit = si.mem_limit;
    p->threads = vsri_process_threads();

    /* decoding and encoding */
    p->in = is;
    p->hwdec = dup_or_null(is.hwdec);
    p->in.hwdec = NULL;
    const AVOutputFormat *ofmt = av_guess_format(NULL, p->output, NULL);
    const char *codec = os.codec ? os.codec : ofmt && strcmp(ofmt->name, "webm") == 0 ? "libvpx-vp9" : "libx264";
    p->codec = strdup(codec);
    p->preset = dup_or_null(os.preset);
    p->pix_fmt = dup_or_null(os.pix_fmt);
    p->options = dup_or_null(os.options);
    if (!p->codec || (is.hwdec && !p->hwdec) || (os.preset && !p->preset) || (os.pix_fmt && !p->pix_fmt) ||
        (os.options && !p->options)) {
        err = VSR_ENOMEM;
        goto fail;
    }
    p->out = os;
    p->out.codec = p->codec;
    p->out.preset = p->preset;
    p->out.pix_fmt = p->pix_fmt;
    p->out.options = p->options;
    p->out.threads = os.threads > 0 ? os.threads : encoder_threads_pinned();
    p->pipelined = rs.pipelined ? 1 : 0;
    p->queue_depth = rs.queue_depth;
    if ((err = resolve_stitch(js.stitch, p->codec, &p->stitch)) < 0 || (err = check_output(p)) < 0)
        goto fail;
    p->segment_frames = js.segment_frames;
    p->index_decode = js.index_decode;

    /* the frames, and where they are cut */
    int64_t t0 = vsri_now_ns();
    if ((err = vsri_index_build(&p->index, p->input.path, &is, js.index_decode)) < 0)
        goto fail;
    if (p->index->frames < 1) {
        err = vsri_error(VSR_ERROR_INPUT, "job: input '%s' has no frames", input);
        goto fail;
    }
    vsri_log(VSR_LOG_INFO, "job: indexed %lld frames of '%s' in %.3f s%s%s", (long long)p->index->frames, input,
             (vsri_now_ns() - t0) / 1e9, p->index->note[0] ? "; " : "", p->index->note);
    int64_t *cuts = NULL;
    if ((err = vsri_plan_cut(&p->chunker, p->index->frames, js.segment_frames, &cuts, &p->n_seg)) < 0)
        goto fail;
    p->seg = calloc((size_t)p->n_seg, sizeof(*p->seg));
    if (!p->seg) {
        free(cuts);
        err = VSR_ENOMEM;
        goto fail;
    }
    for (int64_t k = 0; k < p->n_seg && err >= 0; k++) {
        vsri_plan_segment *s = &p->seg[k];
        vsri_chunk_range r = {p->index->frames, cuts[k], cuts[k + 1] - cuts[k]};
        vsri_chunk_span span;
        err = vsri_chunker_span(&p->chunker, &r, &span);
        s->first = r.first;
        s->frames = r.count;
        s->feed_first = span.feed_first;
        s->feed_end = span.feed_end;
        s->seek_frame = vsri_index_seek_start(p->index, span.feed_first);
        s->first_pts = p->index->pts[r.first];
        s->last_pts = p->index->pts[r.first + r.count - 1];
    }
    free(cuts);
    if (err < 0)
        goto fail;
    *out = p;
    return 0;
fail:
    vsri_plan_free(&p);
    return err;
}

/* ---- JSON --------------------------------------------------------------- */

static const char *const chunk_modes[] = {"per_frame", "sequence", "window"};
static const char *const stitch_modes[] = {"auto", "copy", "closed-gop"};

static json_t *file_id_json(const vsri_file_id *id, int with_hash)
{
    json_t *j = json_pack("{s:s, s:I, s:I}", "path", id->path, "size", (json_int_t)id->size, "mtime_ns",
                          (json_int_t)id->mtime_ns);
    if (j && with_hash && vsri_jset(j, "hash", json_string(id->hash)) < 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static json_t *plan_json(const vsri_plan *p)
{
    json_t *j = json_object(), *segs = json_array();
    if (!j || !segs) {
        json_decref(j);
        json_decref(segs);
        return NULL;
    }
    int bad = 0;
    for (int64_t k = 0; k < p->n_seg && !bad; k++) {
        const vsri_plan_segment *s = &p->seg[k];
        bad = json_array_append_new(
                  segs, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "first", (json_int_t)s->first, "frames",
                                  (json_int_t)s->frames, "feed_first", (json_int_t)s->feed_first, "feed_end",
                                  (json_int_t)s->feed_end, "seek_frame", (json_int_t)s->seek_frame, "first_pts",
                                  (json_int_t)s->first_pts, "last_pts", (json_int_t)s->last_pts)) < 0;
    }
    json_t *model = file_id_json(&p->model, 0);
    if (model)
        bad |= vsri_jset(model, "name", json_string(p->model_name)) < 0 ||
               vsri_jset(model, "scale", json_integer(p->scale)) < 0;
    const vsr_input_settings *in = &p->in;
    const vsr_output_settings *o = &p->out;
    bad = bad || !model || vsri_jset(j, "format", json_string(VSRI_PLAN_FORMAT)) < 0 ||
          vsri_jset(j, "version", json_integer(PLAN_VERSION)) < 0 ||
          vsri_jset(j, "libvsr", json_string(vsr_version_string())) < 0 ||
          vsri_jset(j, "id", json_string(p->id)) < 0 || vsri_jset(j, "created", json_integer(p->created)) < 0 ||
          vsri_jset(j, "input", file_id_json(&p->input, 1)) < 0 ||
          vsri_jset(j, "output", json_string(p->output)) < 0 ||
          vsri_jset(j, "work_dir", json_string(p->work_dir)) < 0 || vsri_jset(j, "model", json_incref(model)) < 0 ||
          vsri_jset(j, "session",
                    json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:b, s:b, s:I, s:i, s:i, s:i}", "device",
                              p->device, "device_type", p->device_type, "precision",
                              vsr_precision_name(p->precision), "batch", p->batch, "chunk", p->chunk, "overlap",
                              p->overlap, "tile", p->tile, "tile_pad", p->tile_pad, "tile_blend", p->tile_blend,
                              "chunk_blend", p->chunk_blend, "mem_limit", (json_int_t)p->mem_limit, "threads",
                              p->threads, "width", p->width, "height", p->height)) < 0 ||
          vsri_jset(j, "chunker",
                    json_pack("{s:s, s:i, s:i, s:i, s:i, s:b}", "mode", chunk_modes[p->chunker.mode], "length",
                              p->chunker.length, "overlap", p->chunker.overlap, "window", p->chunker.window,
                              "batch", p->chunker.batch, "blend", p->chunker.blend)) < 0 ||
          vsri_jset(j, "decoder",
                    json_pack("{s:i, s:o, s:i, s:i, s:I, s:I, s:i, s:b}", "threads", in->threads, "hwdec",
                              vsri_jstr_or_null(p->hwdec), "max_width", in->max_width, "max_height",
                              in->max_height, "max_pixels", (json_int_t)in->max_pixels, "max_frames",
                              (json_int_t)in->max_frames, "stream_index", in->stream_index, "frame_threads",
                              in->frame_threads)) < 0 ||
          vsri_jset(j, "encoder",
                    json_pack("{s:s, s:i, s:o, s:o, s:I, s:i, s:o, s:b, s:b, s:[i, i]}", "codec", p->codec, "crf",
                              o->crf, "preset", vsri_jstr_or_null(p->preset), "pix_fmt",
                              vsri_jstr_or_null(p->pix_fmt), "bitrate", (json_int_t)o->bitrate, "threads",
                              o->threads, "options", vsri_jstr_or_null(p->options), "copy_streams",
                              o->copy_streams, "overwrite", o->overwrite, "frame_rate", o->frame_rate.num,
                              o->frame_rate.den)) < 0 ||
          vsri_jset(j, "run", json_pack("{s:b, s:i}", "pipelined", p->pipelined, "queue_depth", p->queue_depth)) < 0 ||
          vsri_jset(j, "stitch", json_string(stitch_modes[p->stitch])) < 0 ||
          vsri_jset(j, "segment_frames", json_integer(p->segment_frames)) < 0 ||
          vsri_jset(j, "index_decode", json_boolean(p->index_decode)) < 0 ||
          vsri_jset(j, "index", vsri_index_to_json(p->index)) < 0 || vsri_jset(j, "segments", json_incref(segs)) < 0;
    json_decref(model);
    json_decref(segs);
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int vsri_plan_write(const vsri_plan *p)
{
    json_t *j = plan_json(p);
    if (!j) /* jansson refuses strings that are not UTF-8, e.g. such a file name */
        return vsri_error(VSR_ENOMEM, "job: plan '%s' cannot be made (out of memory, or a path that is not UTF-8)",
                          p->path);
    int err = vsri_jsave_file(p->path, j, "plan");
    json_decref(j);
    return err;
}

static int read_file_id(const json_t *j, const char *key, int with_hash, vsri_file_id *id, const char *where)
{
    const json_t *o;
    const char *path, *hash = "";
    char w[PATH_MAX + 64];
    int err = vsri_jget_obj(j, key, &o, where);
    snprintf(w, sizeof(w), "%s: %s", where, key);
    if (err >= 0)
        err = vsri_jget_str(o, "path", 0, &path, w);
    if (err >= 0)
        err = vsri_jget_int(o, "size", 0, INT64_MAX, &id->size, w);
    if (err >= 0)
        err = vsri_jget_int(o, "mtime_ns", INT64_MIN, INT64_MAX, &id->mtime_ns, w);
    if (err >= 0 && with_hash && (err = vsri_jget_str(o, "hash", 0, &hash, w)) >= 0 && strlen(hash) != 16)
        err = vsri_error(VSR_ERROR_CONFIG, "%s: 'hash' must be 16 hex digits, got \"%s\"", w, hash);
    if (err < 0)
        return err;
    vsri_strlcpy(id->hash, hash, sizeof(id->hash));
    id->path = strdup(path);
    return id->path ? 0 : VSR_ENOMEM;
}

/* A string member that must be one of names[0..n). */
static int read_choice(const json_t *o, const char *key, const char *const *names, int n, int *out,
                       const char *where)
{
    const char *s;
    int err = vsri_jget_str(o, key, 0, &s, where);
    if (err < 0)
        return err;
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return vsri_error(VSR_ERROR_CONFIG, "%s: '%s' has an unknown value \"%s\"", where, key, s);
}

static int read_int(const json_t *o, const char *key, int lo, int hi, int *out, const char *where)
{
    int64_t v;
    int err = vsri_jget_int(o, key, lo, hi, &v, where);
    if (err >= 0)
        *out = (int)v;
    return err;
}

static int read_strdup(const json_t *o, const char *key, int nullable, char **out, const char *where)
{
    const char *s;
    int err = vsri_jget_str(o, key, nullable, &s, where);
    if (err < 0)
        return err;
    *out = s ? strdup(s) : NULL;
    return s && !*out ? VSR_ENOMEM : 0;
}

static int read_session(const json_t *j, vsri_plan *p, const char *where)
{
    const json_t *o;
    char w[PATH_MAX + 64];
    const char *dev, *type, *prec;
    int err = vsri_jget_obj(j, "session", &o, where);
    snprintf(w, sizeof(w), "%s: session", where);
    static const char *const precisions[] = {"auto", "fp32", "bf16", "fp16"};
    int pr = 0;
    if (err < 0 || (err = vsri_jget_str(o, "device", 0, &dev, w)) < 0 ||
        (err = vsri_jget_str(o, "device_type", 0, &type, w)) < 0 ||
        (err = read_choice(o, "precision", precisions, 4, &pr, w)) < 0 ||
        (err = read_int(o, "batch", 1, 256, &p->batch, w)) < 0 ||
        (err = read_int(o, "chunk", 1, 4096, &p->chunk, w)) < 0 ||
        (err = read_int(o, "overlap", 0, 4095, &p->overlap, w)) < 0 ||
        (err = read_int(o, "tile", 0, 65536, &p->tile, w)) < 0 ||
        (err = read_int(o, "tile_pad", 0, 1024, &p->tile_pad, w)) < 0 ||
        (err = vsri_jget_bool(o, "tile_blend", &p->tile_blend, w)) < 0 ||
        (err = vsri_jget_bool(o, "chunk_blend", &p->chunk_blend, w)) < 0 ||
        (err = vsri_jget_int(o, "mem_limit", 0, INT64_MAX, &p->mem_limit, w)) < 0 ||
        (err = read_int(o, "threads", 1, 1024, &p->threads, w)) < 0 ||
        (err = read_int(o, "width", 1, 65536, &p->width, w)) < 0 ||
        (err = read_int(o, "height", 1, 65536, &p->height, w)) < 0)
        return err;
    (void)prec;
    if (pr == VSR_PRECISION_AUTO)
        return vsri_error(VSR_ERROR_CONFIG, "%s: 'precision' must be resolved (fp32, bf16, fp16), got \"auto\"", w);
    p->precision = (vsr_precision)pr;
    if (strlen(dev) >= sizeof(p->device) || strlen(type) >= sizeof(p->device_type) ||
        strncmp(dev, type, strlen(type)) != 0)
        return vsri_error(VSR_ERROR_CONFIG, "%s: 'device' \"%s\" and 'device_type' \"%s\" do not agree", w, dev, type);
    vsri_strlcpy(p->device, dev, sizeof(p->device));
    vsri_strlcpy(p->device_type, type, sizeof(p->device_type));
    return 0;
}

static int read_codecs(const json_t *j, vsri_plan *p, const char *where)
{
    const json_t *d, *e, *run, *fr;
    char w[PATH_MAX + 64];
    int err = vsri_jget_obj(j, "decoder", &d, where);
    vsr_input_settings_default(&p->in);
    vsr_output_settings_default(&p->out);
    vsr_input_settings *in = &p->in;
    vsr_output_settings *o = &p->out;
    snprintf(w, sizeof(w), "%s: decoder", where);
    int64_t mp, mf, crf, br;
    if (err < 0 || (err = read_int(d, "threads", 0, 1024, &in->threads, w)) < 0 ||
        (err = read_strdup(d, "hwdec", 1, &p->hwdec, w)) < 0 ||
        (err = read_int(d, "max_width", 1, 1 << 20, &in->max_width, w)) < 0 ||
        (err = read_int(d, "max_height", 1, 1 << 20, &in->max_height, w)) < 0 ||
        (err = vsri_jget_int(d, "max_pixels", 1, INT64_MAX, &mp, w)) < 0 ||
        (err = vsri_jget_int(d, "max_frames", 0, INT64_MAX, &mf, w)) < 0 ||
        (err = read_int(d, "stream_index", -1, 65535, &in->stream_index, w)) < 0 ||
        (err = vsri_jget_bool(d, "frame_threads", &in->frame_threads, w)) < 0)
        return err;
    in->max_pixels = mp;
    in->max_frames = mf;
    in->hwdec = p->hwdec;
    snprintf(w, sizeof(w), "%s: encoder", where);
    if ((err = vsri_jget_obj(j, "encoder", &e, where)) < 0 || (err = read_strdup(e, "codec", 0, &p->codec, w)) < 0 ||
        (err = vsri_jget_int(e, "crf", -1, 63, &crf, w)) < 0 || (err = read_strdup(e, "preset", 1, &p->preset, w)) < 0 ||
        (err = read_strdup(e, "pix_fmt", 1, &p->pix_fmt, w)) < 0 ||
        (err = vsri_jget_int(e, "bitrate", 0, INT64_MAX, &br, w)) < 0 ||
        (err = read_int(e, "threads", 1, 1024, &o->threads, w)) < 0 ||
        (err = read_strdup(e, "options", 1, &p->options, w)) < 0 ||
        (err = vsri_jget_bool(e, "copy_streams", &o->copy_streams, w)) < 0 ||
        (err = vsri_jget_bool(e, "overwrite", &o->overwrite, w)) < 0 ||
        (err = vsri_jget_arr(e, "frame_rate", 2, 2, &fr, w)) < 0)
        return err;
    int64_t num, den;
    if ((err = vsri_jat_int(fr, 0, 0, INT32_MAX, &num, w, "frame_rate")) < 0 ||
        (err = vsri_jat_int(fr, 1, 1, INT32_MAX, &den, w, "frame_rate")) < 0)
        return err;
    o->frame_rate = (vsr_rational){(int)num, (int)den};
    o->crf = (int)crf;
    o->bitrate = br;
    o->codec = p->codec;
    o->preset = p->preset;
    o->pix_fmt = p->pix_fmt;
    o->options = p->options;
    snprintf(w, sizeof(w), "%s: run", where);
    if ((err = vsri_jget_obj(j, "run", &run, where)) < 0 ||
        (err = vsri_jget_bool(run, "pipelined", &p->pipelined, w)) < 0 ||
        (err = read_int(run, "queue_depth", 1, 1024, &p->queue_depth, w)) < 0)
        return err;
    return 0;
}

static int read_chunker(const json_t *j, vsri_plan *p, const char *where)
{
    const json_t *o;
    char w[PATH_MAX + 64];
    int mode = 0, err = vsri_jget_obj(j, "chunker", &o, where);
    snprintf(w, sizeof(w), "%s: chunker", where);
    vsri_chunker_config *c = &p->chunker;
    if (err < 0 || (err = read_choice(o, "mode", chunk_modes, 3, &mode, w)) < 0 ||
        (err = read_int(o, "length", 0, 4096, &c->length, w)) < 0 ||
        (err = read_int(o, "overlap", 0, 4095, &c->overlap, w)) < 0 ||
        (err = read_int(o, "window", 0, 4096, &c->window, w)) < 0 ||
        (err = read_int(o, "batch", 1, 4096, &c->batch, w)) < 0 ||
        (err = vsri_jget_bool(o, "blend", &c->blend, w)) < 0)
        return err;
    c->mode = (vsri_chunk_mode)mode;
    vsri_chunker *probe = NULL;
    if ((err = vsri_chunker_new(&probe, c)) < 0)
        return vsri_error(VSR_ERROR_CONFIG, "%s: %s", w, vsr_last_error());
    vsri_chunker_free(&probe);
    return 0;
}

/* The segments must tile the frames and feed what the chunk plan says. */
static int read_segments(const json_t *j, vsri_plan *p, const char *where)
{
    const json_t *arr;
    int64_t total = p->index->frames;
    int err = vsri_jget_arr(j, "segments", 1, (size_t)total, &arr, where);
    if (err < 0)
        return err;
    p->n_seg = (int64_t)json_array_size(arr);
    p->seg = calloc((size_t)p->n_seg, sizeof(*p->seg));
    if (!p->seg)
        return VSR_ENOMEM;
    char w[PATH_MAX + 64];
    for (int64_t k = 0; k < p->n_seg; k++) {
        const json_t *o = json_array_get(arr, (size_t)k);
        vsri_plan_segment *s = &p->seg[k];
        int64_t next = k ? p->seg[k - 1].first + p->seg[k - 1].frames : 0;
        snprintf(w, sizeof(w), "%s: segments[%lld]", where, (long long)k);
        if (!json_is_object(o))
            return vsri_error(VSR_ERROR_CONFIG, "%s: not an object", w);
        if ((err = vsri_jget_int(o, "first", next, next, &s->first, w)) < 0 ||
            (err = vsri_jget_int(o, "frames", 1, total - next, &s->frames, w)) < 0 ||
            (err = vsri_jget_int(o, "feed_first", 0, s->first, &s->feed_first, w)) < 0 ||
            (err = vsri_jget_int(o, "feed_end", s->first + s->frames, total, &s->feed_end, w)) < 0 ||
            (err = vsri_jget_int(o, "seek_frame", 0, s->feed_first, &s->seek_frame, w)) < 0 ||
            (err = vsri_jget_int(o, "first_pts", p->index->pts[s->first], p->index->pts[s->first], &s->first_pts,
                                 w)) < 0 ||
            (err = vsri_jget_int(o, "last_pts", p->index->pts[s->first + s->frames - 1],
                                 p->index->pts[s->first + s->frames - 1], &s->last_pts, w)) < 0)
            return err;
        vsri_chunk_range r = {total, s->first, s->frames};
        vsri_chunk_span span;
        if ((err = vsri_chunker_span(&p->chunker, &r, &span)) < 0)
            return vsri_error(VSR_ERROR_CONFIG, "%s: %s", w, vsr_last_error());
        if (span.feed_first != s->feed_first || span.feed_end != s->feed_end)
            return vsri_error(VSR_ERROR_CONFIG, "%s: feeds frames %lld..%lld, but its passes read %lld..%lld", w,
                              (long long)s->feed_first, (long long)s->feed_end - 1, (long long)span.feed_first,
                              (long long)span.feed_end - 1);
    }
    const vsri_plan_segment *last = &p->seg[p->n_seg - 1];
    if (last->first + last->frames != total)
        return vsri_error(VSR_ERROR_CONFIG, "%s: the segments end at frame %lld, the input has %lld", where,
                          (long long)(last->first + last->frames), (long long)total);
    return 0;
}

int vsri_plan_read(vsri_plan **out, const char *path)
{
    *out = NULL;
    json_t *j = NULL;
    /* a plan holds every frame's pts: allow films of days */
    int err = vsri_jload_file(path, "plan", (size_t)1 << 30, &j);
    if (err < 0)
        return err;
    vsri_plan *p = calloc(1, sizeof(*p));
    char where[PATH_MAX + 16];
    snprintf(where, sizeof(where), "plan '%s'", path);
    const char *format, *id, *output, *work, *name, *libvsr;
    int64_t version, scale, created, seg_frames;
    int stitch = 0;
    const json_t *model, *index;
    if (!p) {
        err = VSR_ENOMEM;
        goto done;
    }
    if ((err = vsri_jget_str(j, "format", 0, &format, where)) < 0)
        goto done;
    if (strcmp(format, VSRI_PLAN_FORMAT) != 0) {
        err = vsri_error(VSR_ERROR_CONFIG, "%s is not a libvsr plan ('format' is \"%s\")", where, format);
        goto done;
    }
    if ((err = vsri_jget_int(j, "version", PLAN_VERSION, PLAN_VERSION, &version, where)) < 0 ||
        (err = vsri_jget_str(j, "libvsr", 0, &libvsr, where)) < 0 ||
        (err = vsri_jget_str(j, "id", 0, &id, where)) < 0 ||
        (err = vsri_jget_int(j, "created", 0, INT64_MAX, &created, where)) < 0 ||
        (err = read_file_id(j, "input", 1, &p->input, where)) < 0 ||
        (err = vsri_jget_str(j, "output", 0, &output, where)) < 0 ||
        (err = vsri_jget_str(j, "work_dir", 0, &work, where)) < 0 ||
        (err = read_file_id(j, "model", 0, &p->model, where)) < 0 || (err = vsri_jget_obj(j, "model", &model, where)) < 0 ||
        (err = vsri_jget_str(model, "name", 0, &name, where)) < 0 ||
        (err = vsri_jget_int(model, "scale", 1, 16, &scale, where)) < 0 || (err = read_session(j, p, where)) < 0 ||
        (err = read_chunker(j, p, where)) < 0 || (err = read_codecs(j, p, where)) < 0 ||
        (err = read_choice(j, "stitch", stitch_modes, 3, &stitch, where)) < 0 ||
        (err = vsri_jget_int(j, "segment_frames", 1, INT64_MAX, &seg_frames, where)) < 0 ||
        (err = vsri_jget_bool(j, "index_decode", &p->index_decode, where)) < 0 ||
        (err = vsri_jget_obj(j, "index", &index, where)) < 0)
        goto done;
    if (stitch == VSR_STITCH_AUTO || strlen(id) < 8 || work[0] != '/' || output[0] != '/') {
        err = vsri_error(VSR_ERROR_CONFIG, "%s: %s", where,
                         stitch == VSR_STITCH_AUTO ? "'stitch' must be resolved (copy or closed-gop)"
                         : strlen(id) < 8      ? "'id' is too short"
                                               : "'work_dir' and 'output' must be absolute paths");
        goto done;
    }
    char iw[PATH_MAX + 32];
    snprintf(iw, sizeof(iw), "%s: index", where);
    if ((err = vsri_index_from_json(index, iw, &p->index)) < 0)
        goto done;
    if (p->index->frames < 1) {
        err = vsri_error(VSR_ERROR_CONFIG, "%s: the index has no frames", where);
        goto done;
    }
    p->stitch = (vsr_stitch_mode)stitch;
    p->created = created;
    p->segment_frames = seg_frames;
    p->scale = (int)scale;
    vsri_strlcpy(p->model_name, name, sizeof(p->model_name));
    p->path = absolute_path(path);
    p->id = strdup(id);
    p->output = strdup(output);
    p->work_dir = strdup(work);
    if (!p->path || !p->id || !p->output || !p->work_dir) {
        err = VSR_ENOMEM;
        goto done;
    }
    err = read_segments(j, p, where);
done:
    json_decref(j);
    if (err < 0)
        vsri_plan_free(&p);
    *out = p;
    return err;
}

/* ---- comparing and checking --------------------------------------------- */

static int str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

int vsri_plan_differs(const vsri_plan *a, const vsri_plan *b, char *what, size_t cap)
{
    const char *d = NULL;
    const vsr_output_settings *x = &a->out, *y = &b->out;
    if (*id_change(&a->input, &b->input))
        d = "the input file";
    else if (*id_change(&a->model, &b->model) || strcmp(a->model_name, b->model_name) != 0)
        d = "the model";
    else if (a->precision != b->precision)
        d = "the precision";
    else if (strcmp(a->device_type, b->device_type) != 0)
        d = "the device";
    else if (a->tile != b->tile)
        d = "the tile size";
    else if (a->tile_pad != b->tile_pad)
        d = "the tile pad";
    else if (a->chunk != b->chunk)
        d = "the chunk length";
    else if (a->overlap != b->overlap)
        d = "the chunk overlap";
    else if (a->batch != b->batch)
        d = "the batch size";
    else if (a->tile_blend != b->tile_blend || a->chunk_blend != b->chunk_blend)
        d = "blending";
    else if (memcmp(&a->chunker, &b->chunker, sizeof(a->chunker)) != 0)
        d = "the chunk plan";
    else if (strcmp(a->device_type, "cpu") == 0 && a->threads != b->threads)
        d = "the inference threads";
    else if (strcmp(a->codec, b->codec) != 0)
        d = "the codec";
    else if (x->crf != y->crf || x->bitrate != y->bitrate || x->threads != y->threads ||
             str_differs(a->preset, b->preset) || str_differs(a->pix_fmt, b->pix_fmt) ||
             str_differs(a->options, b->options) || x->frame_rate.num != y->frame_rate.num ||
             x->frame_rate.den != y->frame_rate.den)
        d = "the encoder settings";
    else if (x->copy_streams != y->copy_streams)
        d = "copying the other streams";
    else if (strcmp(a->output, b->output) != 0)
        d = "the output path";
    else if (a->in.stream_index != b->in.stream_index || a->in.max_frames != b->in.max_frames ||
             str_differs(a->hwdec, b->hwdec) || a->index_decode != b->index_decode)
        d = "the decoder settings";
    else if (a->segment_frames != b->segment_frames || a->stitch != b->stitch)
        d = "the segments";
    else if (strcmp(a->work_dir, b->work_dir) != 0)
        d = "the work directory";
    if (!d)
        return 0;
    snprintf(what, cap, "%s", d);
    return 1;
}

int vsri_plan_check_files(const vsri_plan *p)
{
    vsri_file_id now;
    int err = vsri_file_identify(p->input.path, 1, &now);
    if (err < 0)
        return vsri_error(VSR_ERROR_MISMATCH, "plan '%s': the input is gone: %s", p->path, vsr_last_error());
    const char *c = id_change(&p->input, &now);
    vsri_file_id_clear(&now);
    if (*c)
        return vsri_error(VSR_ERROR_MISMATCH,
                          "plan '%s': the input file '%s' changed since the plan was made (its %s); plan again",
                          p->path, p->input.path, c);
    if ((err = vsri_file_identify(p->model.path, 0, &now)) < 0)
        return vsri_error(VSR_ERROR_MISMATCH, "plan '%s': the model file is gone: %s", p->path, vsr_last_error());
    c = id_change(&p->model, &now);
    vsri_file_id_clear(&now);
    if (*c)
        return vsri_error(VSR_ERROR_MISMATCH,
                          "plan '%s': the model file '%s' changed since the plan was made (its %s); plan again",
                          p->path, p->model.path, c);
    return 0;
}

int vsri_plan_check_session(const vsri_plan *p, vsr_session *ses)
{
    const vsr_model *m = vsri_session_model(ses);
    vsr_session_info si = {.size = sizeof(si)};
    vsr_session_get_info(ses, &si);
    const vsr_session_settings *ss = vsri_session_settings(ses);
    char real[PATH_MAX], type[16], what[160] = "";
    vsri_chunker_config cc;
    int tile = 0;
    device_type_of(m->device, type, sizeof(type));
    int err = vsri_session_chunker_config(ses, p->width, p->height, &cc, &tile);
    if (err < 0)
        return err;
    if (!realpath(m->path, real) || strcmp(real, p->model.path) != 0 || strcmp(m->card.name, p->model_name) != 0)
        snprintf(what, sizeof(what), "its model is '%s', the plan's '%s'", m->path, p->model.path);
    else if (strcmp(type, p->device_type) != 0)
        snprintf(what, sizeof(what), "it runs on %s, the plan on %s", type, p->device_type);
    else if (m->precision != p->precision)
        snprintf(what, sizeof(what), "its precision is %s, the plan's %s", vsr_precision_name(m->precision),
                 vsr_precision_name(p->precision));
    else if (tile != p->tile)
        snprintf(what, sizeof(what), "its tile size is %d, the plan's %d", tile, p->tile);
    else if (si.tile_pad != p->tile_pad)
        snprintf(what, sizeof(what), "its tile pad is %d, the plan's %d", si.tile_pad, p->tile_pad);
    else if (si.batch != p->batch)
        snprintf(what, sizeof(what), "its batch size is %d, the plan's %d", si.batch, p->batch);
    else if (si.overlap != p->overlap)
        snprintf(what, sizeof(what), "its chunk overlap is %d, the plan's %d", si.overlap, p->overlap);
    else if (ss->tile_blend != p->tile_blend || ss->chunk_blend != p->chunk_blend)
        snprintf(what, sizeof(what), "it blends otherwise than the plan");
    else if (memcmp(&cc, &p->chunker, sizeof(cc)) != 0)
        snprintf(what, sizeof(what), "its chunk length is %d, the plan's %d", cc.length, p->chunker.length);
    else if (strcmp(type, "cpu") == 0 && vsri_process_threads() != p->threads)
        snprintf(what, sizeof(what), "the process runs %d inference threads, the plan %d", vsri_process_threads(),
                 p->threads);
    if (!what[0])
        return 0;
    return vsri_error(VSR_ERROR_MISMATCH, "plan '%s': the session does not have the plan's settings: %s "
                                          "(open it with vsr_job_open_session)", p->path, what);
}

void vsri_plan_run_settings(const vsri_plan *p, vsr_run_settings *rs, vsr_input_settings *is,
                            vsr_output_settings *os)
{
    *is = p->in;
    is->hwdec = p->hwdec;
    *os = p->out;
    vsr_run_settings_default(rs);
    rs->input = is;
    rs->output = os;
    rs->pipelined = p->pipelined;
    rs->queue_depth = p->queue_depth;
}
