/*
 * Input index and frame-exact seek (see seek.h).
 *
 * The demux pass trusts the packets only where they fully determine what
 * the decoder returns: every packet has a pts and data, no pts repeats,
 * nothing is marked to be discarded or damaged, and the stream starts at a keyframe
 * without leading pictures (decoders drop or invent those differently).
 * Then the decoder returns one frame per packet in pts order, with that
 * pts (vsr_input takes best_effort_timestamp, which is the pts for such a
 * stream). Anything else is indexed by decoding. Either way every seek
 * checks the frames it returns against the index.
 */
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "jsonio.h"
#include "seek.h"
#include "stream_internal.h"

typedef struct packet_rec {
    int64_t pts, dts;
    int flags;
    int empty; /* no data: e.g. a frame a capture program dropped (AVI) */
} packet_rec;

/* The video packets of the stream vsr_input would pick, in file order. */
typedef struct packet_list {
    packet_rec *p;
    int64_t n, cap;
    AVRational time_base;
    int stream_index;
    int read_error;
} packet_list;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int index_alloc(vsri_index *ix, int64_t frames, int n_keys)
{
    ix->frames = frames;
    ix->n_keys = n_keys;
    ix->pts = malloc(sizeof(int64_t) * (size_t)(frames > 0 ? frames : 1));
    ix->key_frame = malloc(sizeof(int64_t) * (size_t)(n_keys > 0 ? n_keys : 1));
    ix->key_ts = malloc(sizeof(int64_t) * (size_t)(n_keys > 0 ? n_keys : 1));
    ix->key_leading = calloc((size_t)(n_keys > 0 ? n_keys : 1), 1);
    if (!ix->pts || !ix->key_frame || !ix->key_ts || !ix->key_leading)
        return vsri_error(VSR_ENOMEM, "index: out of memory for %lld frames", (long long)frames);
    return 0;
}

void vsri_index_free(vsri_index **pix)
{
    if (!pix || !*pix)
        return;
    vsri_index *ix = *pix;
    free(ix->pts);
    free(ix->key_frame);
    free(ix->key_ts);
    free(ix->key_leading);
    free(ix);
    *pix = NULL;
}

/* Binary search in a sorted array: the position of v, or -1. */
static int64_t find_sorted(const int64_t *a, int64_t n, int64_t v)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == v ? lo : -1;
}

int64_t vsri_index_find_pts(const vsri_index *ix, int64_t pts)
{
    return ix && ix->by_pts ? find_sorted(ix->pts, ix->frames, pts) : -1;
}

static int demux_pass(const char *path, const vsr_input_settings *s, packet_list *pl)
{
    AVFormatContext *fmt = NULL;
    int ret = avformat_open_input(&fmt, path, NULL, NULL);
    if (ret < 0)
        return vsri_error(VSR_ERROR_INPUT, "index: cannot open '%s': %s", path, vsr_strerror(ret));
    int err = 0;
    ret = avformat_find_stream_info(fmt, NULL);
    if (ret < 0) {
        err = vsri_error(VSR_ERROR_INPUT, "index: cannot read stream information of '%s': %s", path,
                         vsr_strerror(ret));
        goto done;
    }
    /* the same choice as vsr_input_open() */
    ret = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, s->stream_index, -1, NULL, 0);
    if (ret < 0) {
        err = vsri_error(VSR_ERROR_INPUT, "index: '%s' has no video stream%s", path,
                         s->stream_index >= 0 ? " at the index asked for" : "");
        goto done;
    }
    pl->stream_index = ret;
    pl->time_base = fmt->streams[ret]->time_base;
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        if ((int)i != pl->stream_index)
            fmt->streams[i]->discard = AVDISCARD_ALL;
    AVPacket *pkt = av_packet_alloc();
    if (!pkt) {
        err = VSR_ENOMEM;
        goto done;
    }
    while ((ret = av_read_frame(fmt, pkt)) >= 0) {
        if (pkt->stream_index == pl->stream_index) {
            if (pl->n == pl->cap) {
                int64_t cap = pl->cap ? 2 * pl->cap : 1024;
                packet_rec *p = realloc(pl->p, sizeof(*p) * (size_t)cap);
                if (!p) {
                    av_packet_unref(pkt);
                    err = VSR_ENOMEM;
                    break;
                }
                pl->p = p;
                pl->cap = cap;
            }
            pl->p[pl->n++] = (packet_rec){pkt->pts, pkt->dts, pkt->flags, pkt->size == 0};
        }
        av_packet_unref(pkt);
    }
    if (ret < 0 && ret != AVERROR_EOF)
        pl->read_error = 1;
    av_packet_free(&pkt);
done:
    avformat_close_input(&fmt);
    return err;
}

/* Why the packets alone cannot give the decoder's frames ("" if they can).
 * sorted: the packets' pts in increasing order. */
static const char *demux_doubt(const packet_list *pl, const int64_t *sorted)
{
    if (pl->read_error)
        return "the file could not be read to its end";
    if (pl->n == 0)
        return "no video packets";
    for (int64_t i = 0; i < pl->n; i++) {
        if (pl->p[i].pts == AV_NOPTS_VALUE)
            return "video packets without pts";
        if (pl->p[i].flags & AV_PKT_FLAG_DISCARD)
            return "packets marked to be discarded (an edit list)";
        if (pl->p[i].flags & AV_PKT_FLAG_CORRUPT)
            return "damaged packets";
        if (pl->p[i].empty)
            return "empty packets";
    }
    if (!(pl->p[0].flags & AV_PKT_FLAG_KEY))
        return "the stream does not start at a keyframe";
    for (int64_t i = 1; i < pl->n && !(pl->p[i].flags & AV_PKT_FLAG_KEY); i++)
        if (pl->p[i].pts < pl->p[0].pts)
            return "the first keyframe has leading pictures";
    for (int64_t i = 1; i < pl->n; i++)
        if (sorted[i] == sorted[i - 1])
            return "repeated pts";
    return "";
}

/* Keyframes from the packets, located in the index by pts. Only keys
 * whose pts the index holds count (all of them for an exact demux). */
static int add_keys(vsri_index *ix, const packet_list *pl)
{
    int n = 0;
    for (int64_t i = 0; i < pl->n; i++)
        if ((pl->p[i].flags & AV_PKT_FLAG_KEY) && pl->p[i].pts != AV_NOPTS_VALUE &&
            find_sorted(ix->pts, ix->frames, pl->p[i].pts) >= 0)
            n++;
    ix->n_keys = n;
    free(ix->key_frame);
    free(ix->key_ts);
    free(ix->key_leading);
    ix->key_frame = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    ix->key_ts = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    ix->key_leading = calloc((size_t)(n ? n : 1), 1);
    if (!ix->key_frame || !ix->key_ts || !ix->key_leading)
        return VSR_ENOMEM;
    int k = 0;
    for (int64_t i = 0; i < pl->n; i++) {
        const packet_rec *p = &pl->p[i];
        int64_t frame = (p->flags & AV_PKT_FLAG_KEY) && p->pts != AV_NOPTS_VALUE
                            ? find_sorted(ix->pts, ix->frames, p->pts)
                            : -1;
        if (frame < 0)
            continue;
        /* Leading pictures follow their keyframe in decode order and show
         * before it: they need the GOP before. */
        int leading = 0;
        for (int64_t j = i + 1; j < pl->n && !(pl->p[j].flags & AV_PKT_FLAG_KEY); j++)
            if (pl->p[j].pts != AV_NOPTS_VALUE && pl->p[j].pts < p->pts)
                leading = 1;
        ix->key_frame[k] = frame;
        /* Demuxers index keyframes by pts (Matroska) or by dts (MP4): the
         * smaller of the two lands at or before the keyframe either way. */
        ix->key_ts[k] = p->dts != AV_NOPTS_VALUE && p->dts < p->pts ? p->dts : p->pts;
        ix->key_leading[k] = (uint8_t)leading;
        k++;
    }
    /* in frame order (decode order already is, for any sane stream) */
    for (int a = 1; a < k; a++)
        for (int b = a; b > 0 && ix->key_frame[b - 1] > ix->key_frame[b]; b--) {
            int64_t f = ix->key_frame[b], t = ix->key_ts[b];
            uint8_t l = ix->key_leading[b];
            ix->key_frame[b] = ix->key_frame[b - 1], ix->key_ts[b] = ix->key_ts[b - 1];
            ix->key_leading[b] = ix->key_leading[b - 1];
            ix->key_frame[b - 1] = f, ix->key_ts[b - 1] = t, ix->key_leading[b - 1] = l;
        }
    return 0;
}

/* The pts of every frame vsr_input returns, by decoding them all. */
static int decode_pass(const char *path, const vsr_input_settings *s, vsri_index *ix)
{
    vsr_input *in = NULL;
    int err = vsr_input_open(&in, path, s);
    if (err < 0)
        return err;
    int64_t cap = 1024;
    ix->frames = 0;
    free(ix->pts);
    ix->pts = malloc(sizeof(int64_t) * (size_t)cap);
    if (!ix->pts)
        err = VSR_ENOMEM;
    vsr_frame *f = NULL;
    while (err >= 0 && (err = vsr_input_read_frame(in, &f)) == 0) {
        if (ix->frames == cap) {
            int64_t *p = realloc(ix->pts, sizeof(int64_t) * (size_t)(2 * cap));
            if (!p) {
                err = VSR_ENOMEM;
                vsr_frame_unref(&f);
                break;
            }
            ix->pts = p;
            cap *= 2;
        }
        ix->pts[ix->frames++] = vsr_frame_pts(f);
        vsr_frame_unref(&f);
    }
    vsr_input_close(&in);
    return err == VSR_EOF ? 0 : err;
}

int vsri_index_build(vsri_index **out, const char *path, const vsr_input_settings *settings, int decode)
{
    *out = NULL;
    if (!path || !*path)
        return vsri_error(VSR_EINVAL, "index: no input path");
    vsr_input_settings s;
    vsr_input_settings_default(&s);
    int err = settings ? VSRI_COPY_SETTINGS(&s, settings) : 0;
    if (err < 0)
        return err;
    vsri_index *ix = calloc(1, sizeof(*ix));
    packet_list pl = {0};
    int64_t *sorted = NULL;
    if (!ix)
        return VSR_ENOMEM;
    if ((err = demux_pass(path, &s, &pl)) < 0)
        goto fail;
    ix->time_base = (vsr_rational){pl.time_base.num, pl.time_base.den};
    ix->stream_index = pl.stream_index;
    ix->start_ts = AV_NOPTS_VALUE;
    for (int64_t i = 0; i < pl.n && ix->start_ts == AV_NOPTS_VALUE; i++)
        ix->start_ts = pl.p[i].dts != AV_NOPTS_VALUE ? pl.p[i].dts : pl.p[i].pts;

    sorted = malloc(sizeof(int64_t) * (size_t)(pl.n ? pl.n : 1));
    if (!sorted) {
        err = VSR_ENOMEM;
        goto fail;
    }
    for (int64_t i = 0; i < pl.n; i++)
        sorted[i] = pl.p[i].pts;
    qsort(sorted, (size_t)pl.n, sizeof(int64_t), cmp_i64);
    const char *doubt = demux_doubt(&pl, sorted);
    if (!decode && !*doubt) {
        int64_t n = s.max_frames > 0 && pl.n > s.max_frames ? s.max_frames : pl.n;
        if ((err = index_alloc(ix, n, 0)) < 0)
            goto fail;
        memcpy(ix->pts, sorted, sizeof(int64_t) * (size_t)n);
        ix->by_pts = 1;
    } else {
        if (*doubt)
            snprintf(ix->note, sizeof(ix->note), "indexed by decoding: %s", doubt);
        if ((err = decode_pass(path, &s, ix)) < 0)
            goto fail;
        ix->by_decode = 1;
        /* Seeking by pts needs pts that identify frames and come from the
         * file (vsr_input invents pts where there are none, and after a
         * seek it would invent others). */
        ix->by_pts = 1;
        for (int64_t i = 0; i < ix->frames && ix->by_pts; i++)
            if ((i > 0 && ix->pts[i] <= ix->pts[i - 1]) || find_sorted(sorted, pl.n, ix->pts[i]) < 0)
                ix->by_pts = 0;
        if (!ix->by_pts)
            snprintf(ix->note, sizeof(ix->note), "%s; pts %s: seeks decode from the start",
                     *doubt ? doubt : "indexed by decoding",
                     "do not identify frames (missing, repeated, or not the file's own)");
    }
    if ((err = add_keys(ix, &pl)) < 0)
        goto fail;
    if (ix->by_pts && ix->n_keys == 0) {
        ix->by_pts = 0;
        snprintf(ix->note, sizeof(ix->note), "no keyframe with a known pts: seeks decode from the start");
    }
    free(sorted);
    free(pl.p);
    *out = ix;
    return 0;
fail:
    free(sorted);
    free(pl.p);
    vsri_index_free(&ix);
    return err;
}

/* The key a seek to frame k starts at: -1 for the start of the file. */
static int seek_key(const vsri_index *ix, int64_t k)
{
    int lo = 0, hi = ix->n_keys; /* the last key with key_frame <= k */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (ix->key_frame[mid] <= k)
            lo = mid + 1;
        else
            hi = mid;
    }
    int key = lo - 1;
    /* Open GOP: start a GOP earlier, so that every picture decodes with
     * the references it had in a full decode. */
    if (key > 0 && ix->key_leading[key])
        key--;
    return key;
}

int64_t vsri_index_seek_start(const vsri_index *ix, int64_t k)
{
    if (!ix->by_pts)
        return 0;
    int key = seek_key(ix, k);
    return key < 0 ? 0 : ix->key_frame[key];
}

/* Decode and drop until the frame with pts `target`: 1 found (given back
 * to the input), 0 passed it or the stream ended, < 0 an error. */
static int preroll_to(vsr_input *in, int64_t target, int64_t *dropped)
{
    for (;;) {
        vsr_frame *f = NULL;
        int err = vsr_input_read_frame(in, &f);
        if (err == VSR_EOF)
            return 0;
        if (err < 0)
            return err;
        int64_t pts = vsr_frame_pts(f);
        if (pts == target) {
            vsri_input_unread(in, f);
            return 1;
        }
        vsr_frame_unref(&f);
        if (pts > target)
            return 0;
        (*dropped)++;
    }
}

int vsri_input_seek_frame(vsr_input *in, const vsri_index *ix, int64_t k)
{
    if (!in || !ix)
        return vsri_error(VSR_EINVAL, "vsri_input_seek_frame: no input or index");
    if (k < 0 || k >= ix->frames)
        return vsri_error(VSR_EINVAL, "input %s: frame %lld is not among the %lld frames indexed",
                          vsri_input_name(in), (long long)k, (long long)ix->frames);
    if (vsri_input_stream(in) != ix->stream_index)
        return vsri_error(VSR_EINVAL, "input %s: reads video stream %d, but the index is of stream %d",
                          vsri_input_name(in), vsri_input_stream(in), ix->stream_index);
    /* Where a fresh input starts, or where sequential reading got to: no
     * seek needed, only the checks from here on. */
    if (vsri_input_position(in) == k) {
        vsri_input_set_position(in, k, ix->pts, ix->frames);
        return 0;
    }
    int err;
    if (!ix->by_pts) {
        /* Frames cannot be told apart by pts: count them from the start,
         * each checked against the index. */
        vsri_log(VSR_LOG_INFO, "input %s: seeking to frame %lld by decoding from the start (%s)",
                 vsri_input_name(in), (long long)k, ix->note);
        if ((err = vsri_input_restart_at(in, INT64_MIN)) < 0)
            return err;
        vsri_input_set_position(in, 0, ix->pts, ix->frames);
        for (int64_t i = 0; i < k; i++) {
            vsr_frame *f = NULL;
            err = vsr_input_read_frame(in, &f);
            vsr_frame_unref(&f);
            if (err == VSR_EOF)
                return vsri_error(VSR_ERROR_INPUT, "input %s: ended after %lld frames, before frame %lld",
                                  vsri_input_name(in), (long long)i, (long long)k);
            if (err < 0)
                return err;
        }
        return 0;
    }
    const int64_t target = ix->pts[k];
    for (int key = seek_key(ix, k);; key--) {
        int64_t ts = key >= 0 ? ix->key_ts[key] : INT64_MIN;
        err = vsri_input_restart_at(in, ts);
        if (err < 0 && key >= 0)
            continue; /* the demuxer cannot go there: try an earlier keyframe */
        if (err < 0)
            return err;
        int64_t dropped = 0;
        int found = preroll_to(in, target, &dropped);
        if (found < 0)
            return found;
        if (found) {
            vsri_input_set_position(in, k, ix->pts, ix->frames);
            vsri_log(VSR_LOG_DEBUG, "input %s: at frame %lld (pts %lld) after %lld frames of pre-roll from %s",
                     vsri_input_name(in), (long long)k, (long long)target, (long long)dropped,
                     key >= 0 ? "a keyframe" : "the start");
            return 0;
        }
        /* It landed past the frame (a demuxer that seeks coarsely, or a
         * keyframe flag the decoder does not honour): go back further. */
        if (key < 0)
            return vsri_error(VSR_ERROR_INPUT,
                              "input %s: frame %lld (pts %lld) was not found decoding from the start: the "
                              "input is not the one indexed", vsri_input_name(in), (long long)k,
                              (long long)target);
        vsri_log(VSR_LOG_INFO, "input %s: seeking to frame %lld from keyframe %lld missed it; going back further",
                 vsri_input_name(in), (long long)k, (long long)ix->key_frame[key]);
    }
}

/* ---- JSON ------------------------------------------------------------- */

json_t *vsri_index_to_json(const vsri_index *ix)
{
    json_t *j = json_object(), *tb = json_array(), *keys = json_array(), *pts = json_array();
    int bad = !j || !tb || !keys || !pts;
    if (!bad)
        bad = json_array_append_new(tb, json_integer(ix->time_base.num)) < 0 ||
              json_array_append_new(tb, json_integer(ix->time_base.den)) < 0;
    for (int i = 0; i < ix->n_keys && !bad; i++) {
        json_t *k = json_pack("[I, I, i]", (json_int_t)ix->key_frame[i], (json_int_t)ix->key_ts[i],
                              (int)ix->key_leading[i]);
        bad = json_array_append_new(keys, k) < 0;
    }
    for (int64_t i = 0; i < ix->frames && !bad; i++)
        bad = json_array_append_new(pts, json_integer(ix->pts[i])) < 0;
    if (!bad)
        bad = vsri_jset(j, "frames", json_integer(ix->frames)) < 0 ||
              vsri_jset(j, "time_base", json_incref(tb)) < 0 ||
              vsri_jset(j, "stream", json_integer(ix->stream_index)) < 0 ||
              vsri_jset(j, "by_decode", json_boolean(ix->by_decode)) < 0 ||
              vsri_jset(j, "by_pts", json_boolean(ix->by_pts)) < 0 ||
              vsri_jset(j, "note", json_string(ix->note)) < 0 ||
              vsri_jset(j, "start_ts", ix->start_ts == AV_NOPTS_VALUE ? json_null()
                                                                     : json_integer(ix->start_ts)) < 0 ||
              vsri_jset(j, "keys", json_incref(keys)) < 0 || vsri_jset(j, "pts", json_incref(pts)) < 0;
    json_decref(tb);
    json_decref(keys);
    json_decref(pts);
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int vsri_index_from_json(const json_t *j, const char *where, vsri_index **out)
{
    *out = NULL;
    if (!json_is_object(j))
        return vsri_error(VSR_ERROR_CONFIG, "%s: the index is not a JSON object", where);
    int64_t frames, stream, num, den, v;
    const json_t *tb, *keys, *pts, *st;
    const char *note;
    int err;
    if ((err = vsri_jget_int(j, "frames", 0, INT64_MAX / 16, &frames, where)) < 0 ||
        (err = vsri_jget_int(j, "stream", 0, 65535, &stream, where)) < 0 ||
        (err = vsri_jget_arr(j, "time_base", 2, 2, &tb, where)) < 0 ||
        (err = vsri_jat_int(tb, 0, 1, INT32_MAX, &num, where, "time_base")) < 0 ||
        (err = vsri_jat_int(tb, 1, 1, INT32_MAX, &den, where, "time_base")) < 0 ||
        (err = vsri_jget_arr(j, "pts", (size_t)frames, (size_t)frames, &pts, where)) < 0 ||
        (err = vsri_jget_arr(j, "keys", 0, (size_t)frames, &keys, where)) < 0 ||
        (err = vsri_jget_str(j, "note", 0, &note, where)) < 0)
        return err;
    vsri_index *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return VSR_ENOMEM;
    if ((err = index_alloc(ix, frames, (int)json_array_size(keys))) < 0)
        goto fail;
    ix->time_base = (vsr_rational){(int)num, (int)den};
    ix->stream_index = (int)stream;
    if ((err = vsri_jget_bool(j, "by_decode", &ix->by_decode, where)) < 0 ||
        (err = vsri_jget_bool(j, "by_pts", &ix->by_pts, where)) < 0)
        goto fail;
    vsri_strlcpy(ix->note, note, sizeof(ix->note));
    st = json_object_get(j, "start_ts");
    ix->start_ts = AV_NOPTS_VALUE;
    if (!json_is_null(st) && (err = vsri_jget_int(j, "start_ts", INT64_MIN, INT64_MAX, &ix->start_ts, where)) < 0)
        goto fail;
    for (int64_t i = 0; i < frames; i++) {
        /* by_pts: pts identify frames, so they must increase */
        int64_t lo = ix->by_pts && i > 0 ? ix->pts[i - 1] + 1 : INT64_MIN;
        if ((err = vsri_jat_int(pts, (size_t)i, lo, INT64_MAX, &ix->pts[i], where, "pts")) < 0)
            goto fail;
    }
    for (int i = 0; i < ix->n_keys; i++) {
        const json_t *k = json_array_get(keys, (size_t)i);
        char name[64];
        snprintf(name, sizeof(name), "keys[%d]", i);
        int64_t frame, ts;
        if (!json_is_array(k) || json_array_size(k) != 3) {
            err = vsri_error(VSR_ERROR_CONFIG, "%s: '%s' must be [frame, timestamp, leading]", where, name);
            goto fail;
        }
        if ((err = vsri_jat_int(k, 0, i > 0 ? ix->key_frame[i - 1] : 0, frames - 1, &frame, where, name)) < 0 ||
            (err = vsri_jat_int(k, 1, INT64_MIN, INT64_MAX, &ts, where, name)) < 0 ||
            (err = vsri_jat_int(k, 2, 0, 1, &v, where, name)) < 0)
            goto fail;
        ix->key_frame[i] = frame;
        ix->key_ts[i] = ts;
        ix->key_leading[i] = (uint8_t)v;
    }
    *out = ix;
    return 0;
fail:
    vsri_index_free(&ix);
    return err;
}
