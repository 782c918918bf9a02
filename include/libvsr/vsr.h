/**
 * @file vsr.h
 * @brief libvsr: video super-resolution with a neural network. Include
 * this header; it includes the rest.
 *
 * @code
 *   vsr_model_settings ms;
 *   vsr_model_settings_default(&ms);
 *   ms.path = "realesr-animevideov3-x2.pt";
 *   vsr_model *model = NULL;
 *   vsr_session *ses = NULL;
 *   int err = vsr_model_open(&model, &ms);
 *   if (err >= 0) {
 *       vsr_session_settings s;
 *       vsr_session_settings_default(&s);
 *       s.model = model;
 *       err = vsr_session_open(&ses, &s);
 *       vsr_model_unref(&model); // the session holds its own reference
 *   }
 *   if (err >= 0)
 *       err = vsr_upscale_file(ses, "in.mp4", "out.mkv", NULL, NULL);
 *   if (err < 0)
 *       fprintf(stderr, "%s\n", vsr_last_error());
 *   vsr_session_close(&ses);
 * @endcode
 *
 * See docs/guide.md for sessions, streams, frames, model cards, chunks,
 * tiles and the tracker, and docs/scale-out.md for jobs cut into segments
 * (job.h).
 */
#ifndef LIBVSR_VSR_H
#define LIBVSR_VSR_H

#include "common.h"
#include "version.h"
#include "frame.h"
#include "model.h"
#include "stream.h"
#include "tracker.h"
#include "session.h"
#include "job.h"

#endif /* LIBVSR_VSR_H */
