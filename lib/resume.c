/*
 * Resumable runs (see resume.h). The video is encoded into numbered
 * segment files in "<output>.vsr-resume/"; a segment counts only once it
 * is finished (trailer written, renamed from .partial) and listed in
 * journal.json, which is rewritten atomically after each one. So after
 * any interruption, even SIGKILL, the journal names exactly the complete
 * segments. A resumed run skips their frames, encodes the rest, and the
 * final file is assembled by copying the segments' packets together with
 * the input's other streams.
 *
 * Frame-for-frame equality with an uninterrupted run needs an intra-only
 * or lossless codec (FFV1, ProRes); a long-GOP codec restarts its GOP at
 * each segment. Sequence models would need their temporal context
 * replayed across the cut, so resume is for per-frame models.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "json.h"
#include "model_internal.h"
#include "resume.h"
#include "session_internal.h"
#include "stream_internal.h"

/* Frames per segment: small enough that an interruption loses little,
 * large enough that the per-segment overhead does not matter. */
#define SEGMENT_FRAMES 48

typedef struct segment {
    char *file;
    int64_t first, frames;
} segment;

struct vsri_resume {
    char *output_path;
    char *dir;
    char *journal;
    char *identity;          /* fingerprint + input identity + output settings */
    vsr_output_settings os;  /* strings borrowed from the caller for the run */
    segment *segs;
    int n_segs, cap_segs;
    int64_t frames_done;     /* in complete segments */
    vsr_input *in;           /* the run's input: segments take its frame rate and format */
    vsr_output *cur;         /* segment being written */
    int64_t cur_first, cur_frames;
};

static char *str_printf(const char *fmt, ...) VSRI_PRINTF(1, 2);
static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* FNV-1a over the first and last MiB plus size and mtime: cheap, and a
 * changed input (re-encoded, appended, replaced) is caught. */
static int input_identity(const char *path, vsri_strbuf *sb)
{
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return vsri_error(VSR_ERROR_MISMATCH, "resume needs the input as a file");
    FILE *f = fopen(path, "rb");
    if (!f)
        return vsri_error(VSR_ERROR_MISMATCH, "cannot read '%s' to identify it", path);
    uint64_t h = 1469598103934665603ull;
    unsigned char buf[65536];
    const long mib = 1 << 20;
    long starts[2] = {0, st.st_size > 2 * mib ? (long)st.st_size - mib : mib};
    for (int part = 0; part < 2; part++) {
        if (fseek(f, starts[part], SEEK_SET) != 0)
            break;
        long left = mib;
        size_t n;
        while (left > 0 && (n = fread(buf, 1, sizeof(buf) < (size_t)left ? sizeof(buf) : (size_t)left, f)) > 0) {
            for (size_t i = 0; i < n; i++)
                h = (h ^ buf[i]) * 1099511628211ull;
            left -= (long)n;
        }
    }
    fclose(f);
    vsri_sb_printf(sb, "input_size=%lld;input_mtime=%lld;input_hash=%016llx", (long long)st.st_size,
                   (long long)st.st_mtime, (unsigned long long)h);
    return 0;
}

static void settings_identity(const vsr_output_settings *os, vsri_strbuf *sb)
{
    vsr_output_settings d;
    vsr_output_settings_default(&d);
    if (!os)
        os = &d;
    vsri_sb_printf(sb, ";codec=%s;crf=%d;preset=%s;pix_fmt=%s;bitrate=%lld;options=%s", os->codec ? os->codec : "",
                   os->crf, os->preset ? os->preset : "", os->pix_fmt ? os->pix_fmt : "", (long long)os->bitrate,
                   os->options ? os->options : "");
}

static int write_journal(vsri_resume *r)
{
    vsri_strbuf sb;
    vsri_sb_init(&sb);
    vsri_sb_puts(&sb, "{\"format\": \"libvsr-resume\", \"version\": 1, \"identity\": ");
    vsri_sb_json_string(&sb, r->identity);
    vsri_sb_puts(&sb, ", \"segments\": [");
    for (int i = 0; i < r->n_segs; i++) {
        vsri_sb_puts(&sb, i ? ", {\"file\": " : "{\"file\": ");
        vsri_sb_json_string(&sb, r->segs[i].file);
        vsri_sb_printf(&sb, ", \"first\": %lld, \"frames\": %lld}", (long long)r->segs[i].first,
                       (long long)r->segs[i].frames);
    }
    vsri_sb_puts(&sb, "]}\n");
    int err = sb.oom ? VSR_ENOMEM : vsri_write_file_atomic(r->journal, sb.data, sb.len);
    vsri_sb_free(&sb);
    return err;
}

static int add_segment(vsri_resume *r, const char *file, int64_t first, int64_t frames)
{
    if (r->n_segs == r->cap_segs) {
        int n = r->cap_segs ? r->cap_segs * 2 : 16;
        segment *p = realloc(r->segs, sizeof(*p) * (size_t)n);
        if (!p)
            return VSR_ENOMEM;
        r->segs = p;
        r->cap_segs = n;
    }
    char *copy = strdup(file);
    if (!copy)
        return VSR_ENOMEM;
    r->segs[r->n_segs++] = (segment){copy, first, frames};
    r->frames_done = first + frames;
    return 0;
}

/* Read an existing journal; refuse one made for another job. */
static int load_journal(vsri_resume *r)
{
    char *text = NULL;
    size_t len = 0;
    int err = vsri_read_file(r->journal, 16 << 20, &text, &len);
    if (err == VSR_ERR(ENOENT))
        return 0; /* a new run */
    if (err < 0)
        return vsri_error(VSR_ERROR_MISMATCH, "cannot read the resume journal '%s': %s", r->journal,
                          vsr_last_error());
    vsri_json *j = NULL;
    char jerr[256];
    err = vsri_json_parse(text, len, &j, jerr, sizeof(jerr));
    free(text);
    if (err < 0)
        return vsri_error(VSR_ERROR_MISMATCH, "resume journal '%s' is damaged: %s", r->journal, jerr);
    const char *identity = vsri_json_string(vsri_json_get(j, "identity"), NULL);
    const vsri_json *segs = vsri_json_get(j, "segments");
    if (!identity || vsri_json_type_of(segs) != VSRI_JSON_ARRAY) {
        vsri_json_free(j);
        return vsri_error(VSR_ERROR_MISMATCH, "resume journal '%s' is not a libvsr journal", r->journal);
    }
    if (strcmp(identity, r->identity) != 0) {
        /* say what differs: the identity is key=value;... */
        char what[256] = "the settings";
        const char *keys[] = {"input_", "model=", "precision=", "device=", "codec=", "tile=", "chunk="};
        const char *names[] = {"the input file", "the model", "the precision", "the device", "the codec",
                               "the tile size", "the chunk length"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            const char *a = strstr(identity, keys[i]), *b = strstr(r->identity, keys[i]);
            size_t la = a ? strcspn(a, ";") : 0, lb = b ? strcspn(b, ";") : 0;
            if (!a || !b || la != lb || strncmp(a, b, la) != 0) {
                snprintf(what, sizeof(what), "%s", names[i]);
                break;
            }
        }
        vsri_json_free(j);
        return vsri_error(VSR_ERROR_MISMATCH,
                          "cannot resume into '%s': %s changed since the interrupted run (remove '%s' to "
                          "start over)",
                          r->output_path, what, r->dir);
    }
    int64_t next = 0;
    for (int i = 0; i < vsri_json_count(segs); i++) {
        const vsri_json *s = vsri_json_at(segs, i);
        const char *file = vsri_json_string(vsri_json_get(s, "file"), NULL);
        int64_t first = -1, frames = -1;
        vsri_json_int(vsri_json_get(s, "first"), &first);
        vsri_json_int(vsri_json_get(s, "frames"), &frames);
        char *path = file ? str_printf("%s/%s", r->dir, file) : NULL;
        int ok = file && !strchr(file, '/') && first == next && frames > 0 && path && access(path, R_OK) == 0;
        free(path);
        if (!ok) {
            vsri_json_free(j);
            return vsri_error(VSR_ERROR_MISMATCH, "resume journal '%s': segment %d is missing or inconsistent",
                              r->journal, i);
        }
        err = add_segment(r, file, first, frames);
        if (err < 0) {
            vsri_json_free(j);
            return err;
        }
        next = first + frames;
    }
    vsri_json_free(j);
    return 0;
}

int vsri_resume_open(vsri_resume **out, const char *output_path, vsr_input *in, const vsr_output_settings *os,
                     const char *fingerprint, int64_t *frames_done)
{
    *out = NULL;
    *frames_done = 0;
    vsri_resume *r = calloc(1, sizeof(*r));
    if (!r)
        return VSR_ENOMEM;
    vsr_output_settings_default(&r->os);
    int err = os ? VSRI_SETTINGS_IN(&r->os, os, "vsr_output_settings") : 0;
    r->in = in;
    vsri_strbuf id;
    vsri_sb_init(&id);
    vsri_sb_puts(&id, fingerprint);
    vsri_sb_puts(&id, ";");
    if (err >= 0)
        err = input_identity(vsri_input_path(in), &id);
    settings_identity(os, &id);
    r->output_path = strdup(output_path);
    r->dir = str_printf("%s.vsr-resume", output_path);
    r->journal = str_printf("%s.vsr-resume/journal.json", output_path);
    r->identity = vsri_sb_take(&id);
    if (err >= 0 && (!r->output_path || !r->dir || !r->journal || !r->identity))
        err = VSR_ENOMEM;
    if (err >= 0 && mkdir(r->dir, 0777) != 0 && errno != EEXIST)
        err = vsri_error(VSR_ERROR_OUTPUT, "cannot create the resume directory '%s': %s", r->dir, strerror(errno));
    if (err >= 0)
        err = load_journal(r);
    if (err >= 0 && !r->n_segs)
        err = write_journal(r); /* claim the directory for this job */
    if (err < 0) {
        vsri_resume_close(&r);
        return err;
    }
    if (r->frames_done)
        vsri_log(VSR_LOG_INFO, "resuming '%s' after %lld frames in %d segments", output_path,
                 (long long)r->frames_done, r->n_segs);
    *frames_done = r->frames_done;
    *out = r;
    return 0;
}

int vsri_resume_skip(vsri_resume *r, vsr_input *in, vsr_session *ses)
{
    const vsr_model *m = vsri_session_model(ses);
    if (m->card.layout != VSR_LAYOUT_NCHW)
        return vsri_error(VSR_ERROR_UNSUPPORTED,
                          "resume works with per-frame models; '%s' is a sequence model (its temporal context "
                          "cannot be replayed exactly across the cut)",
                          m->card.name);
    for (int64_t i = 0; i < r->frames_done; i++) {
        vsr_frame *f = NULL;
        int err = vsr_input_read_frame(in, &f);
        vsr_frame_unref(&f);
        if (err == VSR_EOF)
            return vsri_error(VSR_ERROR_MISMATCH, "the input has only %lld frames but %lld were done",
                              (long long)i, (long long)r->frames_done);
        if (err < 0)
            return err;
    }
    return 0;
}

static int close_segment(vsri_resume *r)
{
    if (!r->cur)
        return 0;
    int err = vsr_output_finish(r->cur);
    vsr_output_close(&r->cur);
    if (err < 0)
        return err;
    char name[64];
    snprintf(name, sizeof(name), "seg-%06d.mkv", r->n_segs);
    err = add_segment(r, name, r->cur_first, r->cur_frames);
    if (err >= 0)
        err = write_journal(r);
    return err;
}

int vsri_resume_write_frame(vsri_resume *r, vsr_frame *f)
{
    int err;
    if (!r->cur) {
        char *path = str_printf("%s/seg-%06d.mkv", r->dir, r->n_segs);
        if (!path)
            return VSR_ENOMEM;
        vsr_output_settings os = r->os;
        os.copy_streams = 0; /* the other streams join at assembly */
        os.overwrite = 1;
        /* with the input as source, a segment is encoded exactly as the
         * output of a run without resume would be */
        err = vsr_output_open(&r->cur, path, r->in, &os);
        free(path);
        if (err < 0)
            return err;
        r->cur_first = r->frames_done;
        r->cur_frames = 0;
    }
    err = vsr_output_write_frame(r->cur, f);
    if (err < 0)
        return err;
    if (++r->cur_frames >= SEGMENT_FRAMES)
        return close_segment(r);
    return 0;
}

/* Copy every segment's packets, with the source's other streams, into the
 * final file. */
static int assemble(vsri_resume *r, const char *input_path)
{
    vsr_input *src = NULL;
    vsr_output *out = NULL;
    int err = vsr_input_open(&src, input_path, NULL);
    if (err >= 0)
        err = vsr_output_open(&out, r->output_path, src, &r->os);
    AVPacket *pkt = av_packet_alloc();
    if (!pkt && err >= 0)
        err = VSR_ENOMEM;
    for (int i = 0; i < r->n_segs && err >= 0; i++) {
        char *path = str_printf("%s/%s", r->dir, r->segs[i].file);
        AVFormatContext *ic = NULL;
        int ret = path ? avformat_open_input(&ic, path, NULL, NULL) : AVERROR(ENOMEM);
        if (ret >= 0)
            ret = avformat_find_stream_info(ic, NULL);
        if (ret < 0 || ic->nb_streams < 1) {
            err = vsri_error(VSR_ERROR_MISMATCH, "cannot read segment '%s': %s", path ? path : "?", vsr_strerror(ret));
        } else {
            const AVStream *st = ic->streams[0];
            while (err >= 0 && (ret = av_read_frame(ic, pkt)) >= 0) {
                int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
                if (ts != AV_NOPTS_VALUE)
                    err = vsri_input_pump(src, av_rescale_q(ts, st->time_base, AV_TIME_BASE_Q));
                if (err >= 0)
                    err = vsri_output_write_video_packet(out, pkt, st->codecpar, st->time_base);
                av_packet_unref(pkt);
            }
            if (err >= 0 && ret != AVERROR_EOF)
                err = vsri_error(VSR_ERROR_MISMATCH, "segment '%s' is damaged: %s", path, vsr_strerror(ret));
        }
        avformat_close_input(&ic);
        free(path);
    }
    av_packet_free(&pkt);
    if (err >= 0)
        err = vsri_input_pump(src, INT64_MAX);
    if (err >= 0)
        err = vsr_output_finish(out);
    vsr_output_close(&out);
    vsr_input_close(&src);
    return err;
}

static void remove_journal(vsri_resume *r)
{
    for (int i = 0; i < r->n_segs; i++) {
        char *path = str_printf("%s/%s", r->dir, r->segs[i].file);
        if (path)
            remove(path);
        free(path);
    }
    /* stray .partial segments of earlier interruptions */
    DIR *d = opendir(r->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "seg-", 4) == 0) {
            char *path = str_printf("%s/%s", r->dir, e->d_name);
            if (path)
                remove(path);
            free(path);
        }
    }
    if (d)
        closedir(d);
    remove(r->journal);
    rmdir(r->dir);
}

int vsri_resume_finish(vsri_resume *r, vsr_input *in, int cancelled)
{
    int err = close_segment(r);
    if (err < 0)
        return err;
    if (!r->n_segs)
        return vsri_error(VSR_ERROR_OUTPUT, "output '%s': no frames were written", r->output_path);
    err = assemble(r, vsri_input_path(in));
    /* An interrupted run keeps its journal so that it can be resumed; its
     * output is still assembled, playable up to the last frame. */
    if (err >= 0 && !cancelled)
        remove_journal(r);
    return err;
}

void vsri_resume_close(vsri_resume **pr)
{
    if (!pr || !*pr)
        return;
    vsri_resume *r = *pr;
    *pr = NULL;
    vsr_output_close(&r->cur); /* an unfinished segment is removed */
    for (int i = 0; i < r->n_segs; i++)
        free(r->segs[i].file);
    free(r->segs);
    free(r->output_path);
    free(r->dir);
    free(r->journal);
    free(r->identity);
    free(r);
}
