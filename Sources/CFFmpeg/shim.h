#ifndef TESSERA_CFFMPEG_SHIM_H
#define TESSERA_CFFMPEG_SHIM_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libswscale/swscale.h>

// Function-like macros do not import into Swift; these wrap the ones Tessera needs.
static inline int tsr_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int tsr_averror_eof(void) { return AVERROR_EOF; }
static inline int64_t tsr_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int tsr_pkt_flag_key(void) { return AV_PKT_FLAG_KEY; }
static inline int tsr_frame_is_key(const AVFrame *f) { return f->key_frame; }
#endif
