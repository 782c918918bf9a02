/* vsr-cli's FFmpeg-style progress blocks and stats line (see cli_progress.h). */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_progress.h"

/* FFmpeg's -stats_period default. */
#define BLOCK_PERIOD_S 0.5
#define LINE_PERIOD_S 0.25

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static FILE *open_tcp(const char *hostport, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof(host) || !colon[1]) {
        snprintf(err, errlen, "-progress: 'tcp://%s' is not tcp://HOST:PORT", hostport);
        return NULL;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "-progress: cannot resolve 'tcp://%s': %s", hostport, gai_strerror(rc));
        return NULL;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, errlen, "-progress: cannot connect to 'tcp://%s': %s", hostport, strerror(fd < 0 ? e : errno));
        if (fd >= 0)
            close(fd);
    }
    return f;
}

int cli_progress_open(cli_progress *p, const char *target, char *err, size_t errlen)
{
    p->out = NULL;
    p->last_block = p->last_line = now_s();
    p->line_drawn = 0;
    if (!target)
        return 0;
    if (!strncmp(target, "pipe:", 5)) {
        char *end = NULL;
        long fd = strtol(target + 5, &end, 10);
        if (!target[5] || *end || fd < 0 || fd > 1023) {
            snprintf(err, errlen, "-progress: '%s' is not pipe:N (N a file descriptor, e.g. pipe:1)", target);
            return -1;
        }
        int d = dup((int)fd);
        if (d < 0 || !(p->out = fdopen(d, "w"))) {
            snprintf(err, errlen, "-progress: cannot write to '%s': %s", target, strerror(errno));
            if (d >= 0)
                close(d);
            return -1;
        }
    } else if (!strncmp(target, "tcp://", 6)) {
        if (!(p->out = open_tcp(target + 6, err, errlen)))
            return -1;
    } else {
        const char *path = !strncmp(target, "file:", 5) ? target + 5 : target;
        if (strstr(path, "://")) {
            snprintf(err, errlen, "-progress: '%s': only pipe:N, tcp://HOST:PORT, file:PATH and plain paths are "
                                  "supported", target);
            return -1;
        }
        if (!(p->out = fopen(path, "w"))) {
            snprintf(err, errlen, "-progress: cannot create '%s': %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void fmt_time(char *buf, size_t cap, int64_t us, int centis)
{
    int64_t s = us / 1000000, frac = us % 1000000;
    if (centis)
        snprintf(buf, cap, "%02lld:%02lld:%02lld.%02lld", (long long)(s / 3600), (long long)(s / 60 % 60),
                 (long long)(s % 60), (long long)(frac / 10000));
    else
        snprintf(buf, cap, "%02lld:%02lld:%02lld.%06lld", (long long)(s / 3600), (long long)(s / 60 % 60),
                 (long long)(s % 60), (long long)frac);
}

static int64_t out_time_us(const cli_progress *p, int64_t frames)
{
    return p->frame_rate > 0 ? (int64_t)(frames * 1e6 / p->frame_rate + 0.5) : 0;
}

static int64_t output_size(const cli_progress *p)
{
    char partial[4096];
    struct stat st;
    snprintf(partial, sizeof(partial), "%s.partial", p->output ? p->output : "");
    if (p->output && stat(partial, &st) == 0)
        return st.st_size;
    if (p->output && stat(p->output, &st) == 0)
        return st.st_size;
    return -1;
}

static void write_block(cli_progress *p, int64_t frames, double elapsed_s, int end)
{
    if (!p->out)
        return;
    int64_t t = out_time_us(p, frames);
    int64_t size = output_size(p);
    char ts[48];
    fmt_time(ts, sizeof(ts), t, 0);
    fprintf(p->out, "frame=%lld\nfps=%.2f\n", (long long)frames, elapsed_s > 0 ? frames / elapsed_s : 0.0);
    if (size >= 0 && t > 0)
        fprintf(p->out, "bitrate=%.1fkbits/s\n", size * 8.0 / (t / 1e6) / 1000.0);
    else
        fputs("bitrate=N/A\n", p->out);
    if (size >= 0)
        fprintf(p->out, "total_size=%lld\n", (long long)size);
    else
        fputs("total_size=N/A\n", p->out);
    /* out_time_ms is in microseconds too: FFmpeg's name, kept for its readers */
    fprintf(p->out, "out_time_us=%lld\nout_time_ms=%lld\nout_time=%s\ndup_frames=0\ndrop_frames=0\n", (long long)t,
            (long long)t, ts);
    if (elapsed_s > 0 && p->frame_rate > 0)
        fprintf(p->out, "speed=%.3gx\n", t / 1e6 / elapsed_s);
    else
        fputs("speed=N/A\n", p->out);
    fprintf(p->out, "progress=%s\n", end ? "end" : "continue");
    fflush(p->out);
}

static void draw_line(cli_progress *p, int64_t frames, double elapsed_s, double eta_s)
{
    int64_t t = out_time_us(p, frames);
    char ts[48];
    fmt_time(ts, sizeof(ts), t, 1);
    char speed[32] = "N/A";
    if (elapsed_s > 0 && p->frame_rate > 0)
        snprintf(speed, sizeof(speed), "%.3gx", t / 1e6 / elapsed_s);
    char eta[40] = "";
    if (eta_s >= 0) {
        long s = (long)(eta_s + 0.5);
        snprintf(eta, sizeof(eta), " eta=%02ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    }
    fprintf(stderr, "\r\033[Kframe=%5lld fps=%.1f time=%s speed=%s%s", (long long)frames,
            elapsed_s > 0 ? frames / elapsed_s : 0.0, ts, speed, eta);
    fflush(stderr);
    p->line_drawn = 1;
}

void cli_progress_update(cli_progress *p, const vsr_progress *pr)
{
    double t = now_s();
    if (p->out && t - p->last_block >= BLOCK_PERIOD_S) {
        p->last_block = t;
        write_block(p, pr->frames_done, pr->elapsed_s, 0);
    }
    if (p->stats_line && t - p->last_line >= LINE_PERIOD_S) {
        p->last_line = t;
        draw_line(p, pr->frames_done, pr->elapsed_s, pr->eta_s);
    }
}

void cli_progress_end(cli_progress *p, int64_t frames, double elapsed_s)
{
    write_block(p, frames, elapsed_s, 1);
    if (p->stats_line && (p->line_drawn || frames > 0)) {
        draw_line(p, frames, elapsed_s, -1);
        fputc('\n', stderr);
        p->line_drawn = 0;
    }
}

void cli_progress_close(cli_progress *p)
{
    if (p->out)
        fclose(p->out);
    p->out = NULL;
}
