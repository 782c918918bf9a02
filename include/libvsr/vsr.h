/*
 * libvsr: video super-resolution with a neural network.
 *
 * Include this header; it includes the rest.
 *
 *   vsr_session_settings s;
 *   vsr_session_settings_default(&s);
 *   s.model_path = "realesr-animevideov3-x2.pt";
 *   vsr_session *ses;
 *   if (vsr_session_open(&ses, &s) < 0)
 *       fprintf(stderr, "%s\n", vsr_last_error());
 *   int err = vsr_upscale_file(ses, "in.mp4", "out.mkv", NULL, NULL);
 *   vsr_session_close(&ses);
 *
 * See docs/guide.md for sessions, streams, frames, model cards, chunks,
 * tiles and the tracker.
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

#endif /* LIBVSR_VSR_H */
