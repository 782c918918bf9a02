// A minimal C++ program using libvsr's C API through small RAII wrappers.
// Build against an installed libvsr:
//
//   c++ -std=c++17 upscale.cpp -o upscale $(pkg-config --cflags --libs libvsr)
//   ./upscale MODEL.pt input.mp4 output.mkv
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include <libvsr/vsr.h>

namespace {

struct TrackerDeleter {
    void operator()(vsr_tracker *t) const { vsr_tracker_unref(&t); }
};
struct ModelDeleter {
    void operator()(vsr_model *m) const { vsr_model_unref(&m); }
};
struct SessionDeleter {
    void operator()(vsr_session *s) const { vsr_session_close(&s); }
};
using Tracker = std::unique_ptr<vsr_tracker, TrackerDeleter>;
using Model = std::unique_ptr<vsr_model, ModelDeleter>;
using Session = std::unique_ptr<vsr_session, SessionDeleter>;

void check(int err)
{
    if (err < 0 && err != VSR_ERROR_INPUT_DAMAGED)
        throw std::runtime_error(vsr_last_error()[0] ? vsr_last_error() : vsr_strerror(err));
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s MODEL.pt INPUT OUTPUT\n", argv[0]);
        return 2;
    }
    try {
        vsr_tracker *raw_tracker = nullptr;
        check(vsr_tracker_open(&raw_tracker, nullptr));
        Tracker tracker(raw_tracker);

        vsr_model_settings ms;
        vsr_model_settings_default(&ms);
        ms.path = argv[1];
        vsr_model *raw_model = nullptr;
        check(vsr_model_open(&raw_model, &ms));
        Model model(raw_model);

        vsr_session_settings s;
        vsr_session_settings_default(&s);
        s.model = model.get(); // the session takes its own reference
        s.tracker = tracker.get();
        vsr_session *raw_session = nullptr;
        check(vsr_session_open(&raw_session, &s));
        Session session(raw_session);

        vsr_run_result res{};
        res.size = sizeof(res);
        check(vsr_upscale_file(session.get(), argv[2], argv[3], nullptr, &res));
        std::printf("%lld frames in %.2f s (%.2f fps)\n", static_cast<long long>(res.frames_written), res.seconds,
                    res.fps);
        char *json = nullptr;
        check(vsr_tracker_export_string(tracker.get(), VSR_EXPORT_PROMETHEUS, &json));
        std::printf("%s", json);
        vsr_free(json);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
