/*
 * A minimal C program using libvsr: upscale a file and print where the
 * time went. Build against an installed libvsr:
 *
 *   cc upscale.c -o upscale $(pkg-config --cflags --libs libvsr)
 *   ./upscale MODEL.pt input.mp4 output.mkv
 */
#include <stdio.h>

#include <libvsr/vsr.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL.pt INPUT OUTPUT\n", argv[0]);
        return 2;
    }
    vsr_tracker *tracker = NULL;
    if (vsr_tracker_open(&tracker, NULL) < 0) {
        fprintf(stderr, "tracker: %s\n", vsr_last_error());
        return 1;
    }
    /* the model, loaded once (several sessions could share it) */
    vsr_model_settings ms;
    vsr_model_settings_default(&ms);
    ms.path = argv[1];
    vsr_model *model = NULL;
    if (vsr_model_open(&model, &ms) < 0) {
        fprintf(stderr, "%s\n", vsr_last_error());
        vsr_tracker_unref(&tracker);
        return 1;
    }
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.model = model;
    s.tracker = tracker;
    vsr_session *ses = NULL;
    int opened = vsr_session_open(&ses, &s);
    vsr_model_unref(&model); /* the session holds its own reference */
    if (opened < 0) {
        fprintf(stderr, "%s\n", vsr_last_error());
        vsr_tracker_unref(&tracker);
        return 1;
    }
    vsr_run_result res = {.size = sizeof(res)};
    int err = vsr_upscale_file(ses, argv[2], argv[3], NULL, &res);
    if (err < 0 && err != VSR_ERROR_INPUT_DAMAGED)
        fprintf(stderr, "%s\n", vsr_last_error());
    else
        printf("%lld frames in %.2f s (%.2f fps)\n", (long long)res.frames_written, res.seconds, res.fps);
    char **types = NULL;
    int n_types = 0;
    if (vsr_tracker_list(tracker, VSR_LIST_TYPES, &types, &n_types) == 0) {
        for (int t = 0; t < n_types; t++) {
            vsr_op_stats st = {.size = sizeof(st)};
            if (vsr_tracker_get_stats(tracker, types[t], NULL, &st) == 0)
                printf("%-12s %6lld ops  mean %8.2f ms  p95 %8.2f ms\n", types[t], (long long)st.count,
                       st.mean_ms, st.p95_ms);
        }
        vsr_free(types);
    }
    vsr_session_close(&ses);
    vsr_tracker_unref(&tracker);
    return err < 0 && err != VSR_ERROR_INPUT_DAMAGED ? 1 : 0;
}
