/*
 * Scale-out jobs (job.h): the public calls, and running and committing a
 * segment.
 *
 * A segment is written into an attempt directory of its own
 * ("seg-K.attempt-HOST-PID-RANDOM": no two workers ever write the same
 * file), read back and checked (frame count, every frame's pts against the
 * plan's index, a checksum of its packets), described by manifest.json,
 * flushed to the disk, and committed with one rename of the directory to
 * "seg-K". rename() of a directory onto a non-empty one fails, so exactly
 * one attempt commits each segment; a loser compares checksums and
 * removes its own directory. A failed attempt (an error, a full disk, a
 * cancel) removes its directory; a killed one leaves it behind, and the
 * next attempt on the same host removes it once its process is gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/crc.h>

#include "job_internal.h"
#include "jsonio.h"
#include "model_internal.h"
#include "process.h"
#include "range.h"
#include "run.h"
#include "session_internal.h"

struct vsr_job {
    vsri_plan *plan;
};

#define MANIFEST_VERSION 1
#define PROGRESS_INTERVAL_NS 500000000 /* rewrite progress.json at most twice a second */

void vsr_job_settings_default(vsr_job_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->size = sizeof(*s);
    s->segment_frames = 1000;
    s->work_dir = NULL;
    s->stitch = VSR_STITCH_AUTO;
    s->index_decode = 0;
}

uint32_t vsri_packet_crc(uint32_t crc, const uint8_t *data, int size, int64_t pts, int64_t dts, int flags)
{
    const AVCRC *t = av_crc_get_table(AV_CRC_32_IEEE);
    uint8_t ts[20];
    for (int i = 0; i < 8; i++) {
        ts[i] = (uint8_t)((uint64_t)pts >> (8 * i));
        ts[8 + i] = (uint8_t)((uint64_t)dts >> (8 * i));
    }
    for (int i = 0; i < 4; i++)
        ts[16 + i] = (uint8_t)((uint32_t)flags >> (8 * i));
    crc = av_crc(t, crc, ts, sizeof(ts));
    return size > 0 ? av_crc(t, crc, data, (size_t)size) : crc;
}

char *vsri_segment_dir(const vsri_plan *p, int64_t k)
{
    return vsri_str_printf("%s/seg-%lld", p->work_dir, (long long)k);
}

int vsri_segment_video_stream(const AVFormatContext *ic)
{
    for (unsigned i = 0; i < ic->nb_streams; i++)
        if (ic->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(ic->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC))
            return (int)i;
    return -1;
}

/* ---- manifests ---------------------------------------------------------- */

static int read_manifest(const char *path, const vsri_plan *p, int64_t k, vsri_manifest *m)
{
    json_t *j = NULL;
    int err = vsri_jload_file(path, "segment manifest", 1 << 20, &j);
    if (err < 0)
        return err;
    char where[PATH_MAX + 32];
    snprintf(where, sizeof(where), "segment manifest '%s'", path);
    const vsri_plan_segment *s = &p->seg[k];
    const char *format, *plan, *crc, *file, *device, *precision;
    int64_t version;
    memset(m, 0, sizeof(*m));
    if ((err = vsri_jget_str(j, "format", 0, &format, where)) < 0 ||
        (err = vsri_jget_int(j, "version", MANIFEST_VERSION, MANIFEST_VERSION, &version, where)) < 0 ||
        (err = vsri_jget_str(j, "plan", 0, &plan, where)) < 0)
        goto done;
    if (strcmp(format, VSRI_MANIFEST_FORMAT) != 0 || strcmp(plan, p->id) != 0) {
        err = vsri_error(VSR_ERROR_MISMATCH, "%s belongs to another plan than '%s' (remove it, or plan again)",
                         where, p->path);
        goto done;
    }
    if ((err = vsri_jget_int(j, "segment", k, k, &m->segment, where)) < 0 ||
        (err = vsri_jget_int(j, "first", s->first, s->first, &m->first, where)) < 0 ||
        (err = vsri_jget_int(j, "frames", s->frames, s->frames, &m->frames, where)) < 0 ||
        (err = vsri_jget_int(j, "first_pts", s->first_pts, s->first_pts, &m->first_pts, where)) < 0 ||
        (err = vsri_jget_int(j, "last_pts", s->last_pts, s->last_pts, &m->last_pts, where)) < 0 ||
        (err = vsri_jget_int(j, "packets", s->frames, s->frames, &m->packets, where)) < 0 ||
        (err = vsri_jget_str(j, "crc", 0, &crc, where)) < 0 || (err = vsri_jget_str(j, "file", 0, &file, where)) < 0 ||
        (err = vsri_jget_str(j, "device", 0, &device, where)) < 0 ||
        (err = vsri_jget_str(j, "precision", 0, &precision, where)) < 0 ||
        (err = vsri_jget_bool(j, "input_damaged", &m->damaged, where)) < 0)
        goto done;
    char *end = NULL;
    unsigned long c = strtoul(crc, &end, 16);
    if (strlen(crc) != 8 || *end || strchr(file, '/') || strlen(file) >= sizeof(m->file) || !file[0]) {
        err = vsri_error(VSR_ERROR_CONFIG, "%s: 'crc' or 'file' is invalid", where);
        goto done;
    }
    m->crc = (uint32_t)c;
    vsri_strlcpy(m->file, file, sizeof(m->file));
    vsri_strlcpy(m->device, device, sizeof(m->device));
    vsri_strlcpy(m->precision, precision, sizeof(m->precision));
done:
    json_decref(j);
    return err;
}

int vsri_segment_committed(const vsri_plan *p, int64_t k, vsri_manifest *m)
{
    char *dir = vsri_segment_dir(p, k), *path = dir ? vsri_str_printf("%s/manifest.json", dir) : NULL;
    int err;
    struct stat st;
    if (!path)
        err = VSR_ENOMEM;
    else if (stat(dir, &st) != 0 && errno == ENOENT)
        err = 0;
    else if (stat(path, &st) != 0)
        err = vsri_error(VSR_ERROR_MISMATCH, "segment directory '%s' has no manifest.json: not a commit of libvsr "
                                             "(remove it)", dir);
    else if ((err = read_manifest(path, p, k, m)) >= 0)
        err = 1;
    else if (err != VSR_ERROR_MISMATCH)
        err = vsri_error(VSR_ERROR_MISMATCH, "committed segment %lld does not agree with the plan: %s", (long long)k,
                         vsr_last_error());
    free(path);
    free(dir);
    return err;
}

/* ---- attempts ----------------------------------------------------------- */

typedef struct attempt {
    const vsri_plan *p;
    int64_t k;
    char *dir;        /* the attempt's directory */
    char *video;      /* its video file */
    char host[64];
    char id[128];     /* host-pid-random */
    int64_t last_progress_ns;
    int64_t frames_done;
} attempt;

static void attempt_host(char *host, size_t cap)
{
    if (gethostname(host, cap) != 0 || !host[0])
        snprintf(host, cap, "localhost");
    host[cap - 1] = 0;
    for (char *c = host; *c; c++) /* a directory name: keep it plain */
        if (*c == '/' || *c == '-' || *c == ' ')
            *c = '_';
}

static void write_progress(attempt *a)
{
    json_t *j = json_pack("{s:I, s:I, s:I, s:s, s:i, s:I}", "segment", (json_int_t)a->k, "frames",
                          (json_int_t)a->p->seg[a->k].frames, "frames_done", (json_int_t)a->frames_done, "host",
                          a->host, "pid", (int)getpid(), "updated", (json_int_t)time(NULL));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    char *path = vsri_str_printf("%s/progress.json", a->dir);
    /* progress is a hint: a failure to write it does not fail the segment */
    if (text && path)
        vsri_write_file_atomic(path, text, strlen(text));
    free(path);
    free(text);
    json_decref(j);
    a->last_progress_ns = vsri_now_ns();
}

static void on_frame(void *user, int64_t written)
{
    attempt *a = user;
    a->frames_done = written;
    if (written == a->p->seg[a->k].frames || vsri_now_ns() - a->last_progress_ns >= PROGRESS_INTERVAL_NS)
        write_progress(a);
}

static int pid_alive(long pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH);
}

/* Attempts at segment k that a process of this host left behind when it
 * was killed (its pid is gone): their files are of no use. */
static void remove_dead_attempts(const attempt *a)
{
    char prefix[96];
    snprintf(prefix, sizeof(prefix), "seg-%lld.attempt-%s-", (long long)a->k, a->host);
    DIR *d = opendir(a->p->work_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        long pid = strtol(e->d_name + strlen(prefix), NULL, 10);
        if (pid_alive(pid))
            continue;
        char *path = vsri_str_printf("%s/%s", a->p->work_dir, e->d_name);
        if (path) {
            vsri_log(VSR_LOG_INFO, "job: removing '%s', left by a process that is gone", path);
            vsri_remove_tree(path);
        }
        free(path);
    }
    if (d)
        closedir(d);
}

static const char *output_extension(const char *output)
{
    const char *slash = strrchr(output, '/'), *dot = strrchr(output, '.');
    return dot && (!slash || dot > slash) && dot[1] && strlen(dot) < 12 ? dot + 1 : "mkv";
}

static int attempt_open(attempt *a, const vsri_plan *p, int64_t k)
{
    memset(a, 0, sizeof(*a));
    a->p = p;
    a->k = k;
    attempt_host(a->host, sizeof(a->host));
    if (mkdir(p->work_dir, 0777) != 0 && errno != EEXIST)
        return vsri_error(VSR_ERROR_OUTPUT, "job: cannot create the work directory '%s': %s", p->work_dir,
                          strerror(errno));
    remove_dead_attempts(a);
    unsigned r = (unsigned)(vsri_now_ns() ^ (int64_t)getpid() * 2654435761u);
    snprintf(a->id, sizeof(a->id), "%s-%ld-%08x", a->host, (long)getpid(), r);
    a->dir = vsri_str_printf("%s/seg-%lld.attempt-%s", p->work_dir, (long long)k, a->id);
    a->video = a->dir ? vsri_str_printf("%s/video.%s", a->dir, output_extension(p->output)) : NULL;
    if (!a->dir || !a->video)
        return VSR_ENOMEM;
    if (mkdir(a->dir, 0777) != 0)
        return vsri_error(VSR_ERROR_OUTPUT, "job: cannot create the attempt directory '%s': %s", a->dir,
                          strerror(errno));
    write_progress(a);
    return 0;
}

static void attempt_close(attempt *a, int remove_dir)
{
    if (remove_dir && a->dir)
        vsri_remove_tree(a->dir);
    free(a->dir);
    free(a->video);
    a->dir = a->video = NULL;
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* Read the segment's video back: one video stream, one packet per frame,
 * the frames' pts those of the plan's index; and its checksum. */
static int check_video(const attempt *a, vsri_manifest *m)
{
    const vsri_plan *p = a->p;
    const vsri_plan_segment *s = &p->seg[a->k];
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    int64_t *pts = malloc(sizeof(int64_t) * (size_t)(s->frames + 1));
    int err = 0, ret = pkt && pts ? avformat_open_input(&ic, a->video, NULL, NULL) : AVERROR(ENOMEM);
    if (ret >= 0)
        ret = avformat_find_stream_info(ic, NULL);
    /* the video (an MP4 with chapters has a chapter track too) */
    int vi = ret >= 0 ? vsri_segment_video_stream(ic) : -1;
    if (ret < 0 || vi < 0) {
        err = vsri_error(VSR_ERROR_OUTPUT, "job: segment %lld: its video '%s' cannot be read back: %s",
                         (long long)a->k, a->video, ret < 0 ? vsr_strerror(ret) : "no video stream");
        goto done;
    }
    const AVRational tb = ic->streams[vi]->time_base, itb = {p->index->time_base.num, p->index->time_base.den};
    uint32_t crc = 0;
    int64_t n = 0;
    while ((ret = av_read_frame(ic, pkt)) >= 0) {
        if (pkt->stream_index != vi) {
            av_packet_unref(pkt);
            continue;
        }
        crc = vsri_packet_crc(crc, pkt->data, pkt->size, pkt->pts, pkt->dts, pkt->flags & AV_PKT_FLAG_KEY);
        if (n < s->frames + 1)
            pts[n] = pkt->pts;
        n++;
        av_packet_unref(pkt);
    }
    if (ret != AVERROR_EOF || n != s->frames) {
        err = vsri_error(VSR_ERROR_OUTPUT, "job: segment %lld: its video '%s' holds %lld packets, not %lld frames%s%s",
                         (long long)a->k, a->video, (long long)n, (long long)s->frames,
                         ret != AVERROR_EOF ? ": " : "", ret != AVERROR_EOF ? vsr_strerror(ret) : "");
        goto done;
    }
    qsort(pts, (size_t)n, sizeof(int64_t), cmp_i64);
    for (int64_t i = 0; i < n; i++) {
        int64_t want = av_rescale_q(p->index->pts[s->first + i], itb, tb);
        if (pts[i] != want) {
            err = vsri_error(VSR_ERROR_INPUT, "job: segment %lld: frame %lld has pts %lld in its video, the plan "
                                              "says %lld (time base %d/%d)", (long long)a->k,
                             (long long)(s->first + i), (long long)pts[i], (long long)want, tb.num, tb.den);
            goto done;
        }
    }
    m->crc = crc;
    m->packets = n;
done:
    avformat_close_input(&ic);
    av_packet_free(&pkt);
    free(pts);
    return err;
}

static int write_manifest(const attempt *a, const vsri_manifest *m, const char *path)
{
    char crc[9];
    snprintf(crc, sizeof(crc), "%08x", (unsigned)m->crc);
    json_t *j = json_pack("{s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:i, s:I}",
                          "format", VSRI_MANIFEST_FORMAT, "version", MANIFEST_VERSION, "plan", a->p->id, "segment",
                          (json_int_t)m->segment, "first", (json_int_t)m->first, "frames", (json_int_t)m->frames,
                          "first_pts", (json_int_t)m->first_pts, "last_pts", (json_int_t)m->last_pts, "packets",
                          (json_int_t)m->packets, "crc", crc, "file", m->file, "input_damaged", m->damaged,
                          "device", m->device, "precision", m->precision, "libvsr", vsr_version_string(), "host",
                          a->host, "pid", (int)getpid(), "attempt", a->id);
    if (!j)
        return VSR_ENOMEM;
    int err = vsri_jsave_file(path, j, "segment manifest");
    json_decref(j);
    return err;
}

/* fsync a file or directory: the commit's rename must not reach the disk
 * before what it commits. */
static int sync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int err = fsync(fd) == 0 || errno == EINVAL ? 0 : -errno; /* EINVAL: a filesystem without fsync */
    close(fd);
    return err;
}

int vsri_segment_commit(const vsri_plan *p, int64_t k, const char *attempt_dir, const vsri_manifest *m)
{
    char *target = vsri_segment_dir(p, k);
    if (!target)
        return VSR_ENOMEM;
    int err = 0;
    if (rename(attempt_dir, target) == 0) {
        sync_path(p->work_dir);
        vsri_log(VSR_LOG_INFO, "job: segment %lld committed (%lld frames, crc %08x)", (long long)k,
                 (long long)m->frames, (unsigned)m->crc);
    } else if (errno == EEXIST || errno == ENOTEMPTY) {
        vsri_manifest other;
        int c = vsri_segment_committed(p, k, &other);
        if (c == 1 && other.crc == m->crc) {
            vsri_log(VSR_LOG_INFO, "job: segment %lld was committed by another worker first, with the same result",
                     (long long)k);
        } else if (c == 1) {
            err = vsri_error(VSR_ERROR_MISMATCH,
                             "job: segment %lld was committed by another worker with a different result (crc %08x, "
                             "this one %08x): nondeterministic workers (devices %s and %s, precision %s and %s)",
                             (long long)k, (unsigned)other.crc, (unsigned)m->crc, other.device, m->device,
                             other.precision, m->precision);
        } else {
            err = c < 0 ? c : vsri_error(VSR_ERROR_OUTPUT, "job: cannot commit segment %lld", (long long)k);
        }
        /* the commit stays as it is; this attempt's copy goes */
        char msg[1024];
        vsri_strlcpy(msg, vsr_last_error(), sizeof(msg));
        vsri_remove_tree(attempt_dir);
        if (err < 0)
            vsri_set_last_error(msg);
    } else {
        err = vsri_error(VSR_ERROR_OUTPUT, "job: cannot commit segment %lld (rename '%s' to '%s'): %s", (long long)k,
                         attempt_dir, target, strerror(errno));
    }
    free(target);
    return err;
}

int vsri_segment_run(const vsri_plan *p, vsr_session *ses, int64_t k, const vsri_segment_opts *opts,
                     vsr_run_result *res)
{
    if (k < 0 || k >= p->n_seg)
        return vsri_error(VSR_EINVAL, "job: plan '%s' has segments 0..%lld, not %lld", p->path,
                          (long long)p->n_seg - 1, (long long)k);
    if (res && vsri_result_check(res, "vsr_run_result") < 0)
        return VSR_EINVAL;
    const vsri_plan_segment *s = &p->seg[k];
    vsri_segment_opts o = {0};
    if (opts)
        o = *opts;
    vsri_manifest m;
    int err = vsri_segment_committed(p, k, &m);
    if (err < 0)
        return err;
    if (err == 1) {
        vsri_log(VSR_LOG_INFO, "job: segment %lld is already committed", (long long)k);
        if (res) {
            vsr_run_result r = {.size = sizeof(r)};
            r.frames_written = s->frames;
            VSRI_RESULT_OUT(res, &r, "vsr_run_result");
        }
        return 0;
    }
    if ((err = vsri_plan_check_files(p)) < 0 || (err = vsri_plan_check_session(p, ses)) < 0)
        return err;

    attempt a;
    err = attempt_open(&a, p, k);
    if (err < 0) {
        attempt_close(&a, 1);
        return err;
    }
    vsr_run_settings rs;
    vsr_input_settings is;
    vsr_output_settings os;
    vsri_plan_run_settings(p, &rs, &is, &os);
    vsri_range_run rr = {
        .index = p->index,
        .range = {p->index->frames, s->first, s->frames},
        .closed_gop = p->stitch == VSR_STITCH_CLOSED_GOP,
        .progress_base = o.progress_base,
        .progress_total = o.progress_total,
        .nested = o.nested,
        .on_frame = on_frame,
        .user = &a,
    };
    vsr_run_result r = {.size = sizeof(r)};
    err = vsri_upscale_run(ses, p->input.path, a.video, &rs, &rr, &r);
    int damaged = err == VSR_ERROR_INPUT_DAMAGED;
    if (err < 0 && !damaged)
        goto fail;
    memset(&m, 0, sizeof(m));
    m.segment = k;
    m.first = s->first;
    m.frames = s->frames;
    m.first_pts = s->first_pts;
    m.last_pts = s->last_pts;
    m.damaged = damaged;
    const vsr_model *model = vsri_session_model(ses);
    vsri_strlcpy(m.device, model->device, sizeof(m.device));
    vsri_strlcpy(m.precision, vsr_precision_name(model->precision), sizeof(m.precision));
    vsri_strlcpy(m.file, strrchr(a.video, '/') + 1, sizeof(m.file));
    char *mpath = vsri_str_printf("%s/manifest.json", a.dir);
    err = mpath ? check_video(&a, &m) : VSR_ENOMEM;
    if (err >= 0)
        err = sync_path(a.video) < 0 ? vsri_error(VSR_ERROR_OUTPUT, "job: cannot flush '%s' to the disk: %s", a.video,
                                                  strerror(errno))
                                     : 0;
    if (err >= 0)
        err = write_manifest(&a, &m, mpath);
    if (err >= 0) {
        /* a commit holds the video and its manifest, not the attempt's
         * progress file (removed before the directory is flushed) */
        char *progress = vsri_str_printf("%s/progress.json", a.dir);
        if (progress)
            unlink(progress);
        free(progress);
        sync_path(a.dir);
    }
    free(mpath);
    if (err >= 0)
        err = vsri_segment_commit(p, k, a.dir, &m);
    if (err < 0)
        goto fail;
    attempt_close(&a, 1); /* nothing is left there after a commit; a loser's copy goes */
    if (res)
        VSRI_RESULT_OUT(res, &r, "vsr_run_result");
    if (damaged) {
        return vsri_error(VSR_ERROR_INPUT_DAMAGED, "job: segment %lld committed, but the input is damaged in its "
                                                   "frames (they are as a whole-file run decodes them)", (long long)k);
    }
    return 0;
fail:
    {
        char msg[1024];
        vsri_strlcpy(msg, vsr_last_error(), sizeof(msg));
        attempt_close(&a, 1); /* nothing half-written stays */
        vsri_set_last_error(msg);
    }
    if (res)
        VSRI_RESULT_OUT(res, &r, "vsr_run_result");
    return err;
}

/* ---- the public calls --------------------------------------------------- */

void vsri_plan_clear_work_dir(const vsri_plan *p)
{
    DIR *d = opendir(p->work_dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "seg-", 4) != 0)
            continue;
        char *path = vsri_str_printf("%s/%s", p->work_dir, e->d_name);
        if (path)
            vsri_remove_tree(path);
        free(path);
        n++;
    }
    if (d)
        closedir(d);
    if (n)
        vsri_log(VSR_LOG_WARNING, "job: removed %d segment directories of an earlier plan from '%s'", n, p->work_dir);
}

int vsr_job_plan(vsr_session *ses, const char *input, const char *output, const vsr_run_settings *rs,
                 const vsr_job_settings *js, const char *plan_path)
{
    if (!ses || !input || !output || !plan_path || !*plan_path)
        return vsri_error(VSR_EINVAL, "vsr_job_plan: session, input, output and plan path are required");
    vsr_job_settings j;
    vsr_job_settings_default(&j);
    int err = js ? VSRI_SETTINGS_IN(&j, js, "vsr_job_settings") : 0;
    if (err < 0)
        return err;
    vsri_plan *p = NULL, *old = NULL;
    int64_t t0 = vsri_now_ns();
    if ((err = vsri_plan_build(&p, ses, input, output, rs, &j, plan_path, j.work_dir)) < 0)
        return err;
    if (access(p->path, F_OK) == 0) {
        char what[96];
        err = vsri_plan_read(&old, p->path);
        if (err >= 0 && vsri_plan_differs(old, p, what, sizeof(what)))
            err = vsri_error(VSR_ERROR_MISMATCH,
                             "plan '%s' exists for another job: %s changed (remove it and '%s' to plan anew)",
                             p->path, what, old->work_dir);
        else if (err >= 0)
            vsri_log(VSR_LOG_INFO, "job: plan '%s' already exists for this job; it is kept", p->path);
        vsri_plan_free(&old);
        vsri_plan_free(&p);
        return err;
    }
    if (mkdir(p->work_dir, 0777) != 0 && errno != EEXIST)
        err = vsri_error(VSR_ERROR_OUTPUT, "job: cannot create the work directory '%s': %s", p->work_dir,
                         strerror(errno));
    if (err >= 0) {
        vsri_plan_clear_work_dir(p);
        err = vsri_plan_write(p);
    }
    if (err >= 0)
        vsri_log(VSR_LOG_INFO, "job: plan '%s': %lld frames in %lld segments (stitch %s), made in %.3f s", p->path,
                 (long long)p->index->frames, (long long)p->n_seg,
                 p->stitch == VSR_STITCH_COPY ? "copy" : "closed-gop", (vsri_now_ns() - t0) / 1e9);
    vsri_plan_free(&p);
    return err;
}

int vsr_job_open(vsr_job **out, const char *plan_path)
{
    if (!out || !plan_path)
        return vsri_error(VSR_EINVAL, "vsr_job_open: output pointer and plan path are required");
    *out = NULL;
    vsr_job *job = calloc(1, sizeof(*job));
    if (!job)
        return VSR_ENOMEM;
    int err = vsri_plan_read(&job->plan, plan_path);
    if (err < 0) {
        free(job);
        return err;
    }
    *out = job;
    return 0;
}

void vsr_job_close(vsr_job **job)
{
    if (!job || !*job)
        return;
    vsri_plan_free(&(*job)->plan);
    free(*job);
    *job = NULL;
}

int vsr_job_get_info(vsr_job *job, vsr_job_info *info)
{
    if (!job || vsri_result_check(info, "vsr_job_info") < 0)
        return vsri_error(VSR_EINVAL, "vsr_job_get_info: job and info are required");
    const vsri_plan *p = job->plan;
    vsr_job_info t = {.size = sizeof(t)};
    t.segments = p->n_seg;
    t.frames = p->index->frames;
    t.stitch = p->stitch;
    for (int64_t k = 0; k < p->n_seg; k++) {
        vsri_manifest m;
        int c = vsri_segment_committed(p, k, &m);
        if (c < 0)
            return c;
        if (c == 1) {
            t.committed++;
            t.frames_done += p->seg[k].frames;
        }
    }
    return VSRI_RESULT_OUT(info, &t, "vsr_job_info");
}

int vsr_job_get_segment(vsr_job *job, int64_t k, vsr_job_segment *seg)
{
    if (!job || vsri_result_check(seg, "vsr_job_segment") < 0)
        return vsri_error(VSR_EINVAL, "vsr_job_get_segment: job and seg are required");
    const vsri_plan *p = job->plan;
    if (k < 0 || k >= p->n_seg)
        return vsri_error(VSR_EINVAL, "job: plan '%s' has segments 0..%lld, not %lld", p->path,
                          (long long)p->n_seg - 1, (long long)k);
    vsri_manifest m;
    int c = vsri_segment_committed(p, k, &m);
    if (c < 0)
        return c;
    const vsri_plan_segment *s = &p->seg[k];
    vsr_job_segment t = {.size = sizeof(t)};
    t.index = k;
    t.first_frame = s->first;
    t.frames = s->frames;
    t.feed_first = s->feed_first;
    t.feed_frames = s->feed_end - s->feed_first;
    t.seek_frame = s->seek_frame;
    t.committed = c == 1;
    return VSRI_RESULT_OUT(seg, &t, "vsr_job_segment");
}

int vsr_job_open_session(vsr_job *job, const char *device, vsr_model *model, vsr_tracker *tracker,
                         vsr_session **out)
{
    if (!out)
        return vsri_error(VSR_EINVAL, "vsr_job_open_session: no output pointer");
    *out = NULL;
    if (!job)
        return vsri_error(VSR_EINVAL, "vsr_job_open_session: no job");
    const vsri_plan *p = job->plan;
    int err = vsri_plan_check_files(p);
    if (err < 0)
        return err;
    const char *dev = device && *device ? device : p->device;
    size_t tl = strcspn(dev, ":");
    if (tl != strlen(p->device_type) || strncmp(dev, p->device_type, tl) != 0)
        return vsri_error(VSR_ERROR_MISMATCH,
                          "plan '%s' was made for %s: device '%s' would compute other results (run the segment on %s)",
                          p->path, p->device_type, dev, p->device_type);
    if (model) {
        char real[PATH_MAX];
        size_t ml = strcspn(model->device, ":");
        if (!realpath(model->path, real) || strcmp(real, p->model.path) != 0 ||
            strcmp(model->card.name, p->model_name) != 0)
            return vsri_error(VSR_ERROR_MISMATCH, "plan '%s' is for the model '%s', not '%s'", p->path,
                              p->model.path, model->path);
        if (ml != strlen(p->device_type) || strncmp(model->device, p->device_type, ml) != 0 ||
            model->precision != p->precision)
            return vsri_error(VSR_ERROR_MISMATCH, "plan '%s' is for %s at %s; the model given runs on %s at %s",
                              p->path, p->device_type, vsr_precision_name(p->precision), model->device,
                              vsr_precision_name(model->precision));
        vsr_model_ref(model);
    } else {
        vsr_model_settings ms;
        vsr_model_settings_default(&ms);
        ms.path = p->model.path;
        ms.device = dev;
        ms.precision = p->precision;
        if ((err = vsr_model_open(&model, &ms)) < 0)
            return err;
    }
    if (strcmp(p->device_type, "cpu") == 0 && vsri_process_threads() != p->threads) {
        /* the thread count changes how a CPU sums, so the results' last bits */
        vsr_process_settings ps = {.size = sizeof(ps)};
        vsr_process_get_settings(&ps);
        ps.threads = p->threads;
        if ((err = vsr_process_configure(&ps)) < 0) {
            vsr_model_unref(&model);
            return err;
        }
        vsri_log(VSR_LOG_INFO, "job: %d inference threads, as planned", p->threads);
    }
    vsr_session_settings ss;
    vsr_session_settings_default(&ss);
    ss.model = model;
    ss.batch = p->batch;
    ss.chunk = p->chunker.mode == VSRI_CHUNK_SEQUENCE ? p->chunker.length : VSR_AUTO;
    ss.overlap = p->overlap;
    ss.tile = p->tile;
    ss.tile_pad = p->tile_pad;
    ss.tile_blend = p->tile_blend;
    ss.chunk_blend = p->chunk_blend;
    ss.mem_limit = p->mem_limit;
    ss.tracker = tracker;
    vsr_session *ses = NULL;
    err = vsr_session_open(&ses, &ss);
    vsr_model_unref(&model);
    if (err >= 0 && (err = vsri_plan_check_session(p, ses)) < 0)
        vsr_session_close(&ses);
    *out = ses;
    return err;
}

int vsr_job_run_segment(vsr_job *job, vsr_session *ses, int64_t k, vsr_run_result *res)
{
    if (!job || !ses)
        return vsri_error(VSR_EINVAL, "vsr_job_run_segment: job and session are required");
    return vsri_segment_run(job->plan, ses, k, NULL, res);
}

int vsr_job_stitch(vsr_job *job, vsr_run_result *res)
{
    if (!job)
        return vsri_error(VSR_EINVAL, "vsr_job_stitch: no job");
    if (res && vsri_result_check(res, "vsr_run_result") < 0)
        return VSR_EINVAL;
    return vsri_plan_stitch(job->plan, job->plan->n_seg, res);
}

int vsr_upscale_range(vsr_session *ses, const char *input, const char *output, int64_t first_frame, int64_t frames,
                      const vsr_run_settings *settings, vsr_run_result *res)
{
    if (!ses || !input || !output)
        return vsri_error(VSR_EINVAL, "vsr_upscale_range: session, input and output are required");
    vsr_run_settings rs;
    vsr_run_settings_default(&rs);
    int err = settings ? VSRI_SETTINGS_IN(&rs, settings, "vsr_run_settings") : 0;
    if (err < 0)
        return err;
    if (vsri_range_is_set(&rs))
        return vsri_error(VSR_EINVAL, "vsr_upscale_range: the frames are first_frame and frames; the run settings' "
                                      "range (start_us, end_us, start_frame, end_frame) must be unset");
    vsri_index *ix = NULL;
    if ((err = vsri_index_build(&ix, input, rs.input, 0)) < 0)
        return err;
    if (first_frame < 0 || frames < 1 || first_frame >= ix->frames || frames > ix->frames - first_frame) {
        err = vsri_error(VSR_EINVAL, "vsr_upscale_range: frames %lld..%lld are not in '%s' (%lld frames)",
                         (long long)first_frame, (long long)(first_frame + frames - 1), input, (long long)ix->frames);
        vsri_index_free(&ix);
        return err;
    }
    vsri_range_run rr = {
        .index = ix,
        .range = {ix->frames, first_frame, frames},
        .closed_gop = 1,
    };
    rs.resume = 0;
    rs.reference_path = NULL;
    err = vsri_upscale_run(ses, input, output, &rs, &rr, res);
    vsri_index_free(&ix);
    return err;
}
