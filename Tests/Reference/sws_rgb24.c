/*
 * sws_rgb24.c - decode every frame of the first video stream of a file and
 * write it to stdout as packed rgb24 (presentation order, no rotation applied),
 * using the system FFmpeg libraries exactly the way a plain API client does:
 *
 *     sws_getContext(w, h, frame->format, w, h, AV_PIX_FMT_RGB24, SWS_BILINEAR, ...)
 *
 * Used by make_media_fixtures.py (optional step) to measure how far Debian's
 * libavcodec 59 / libswscale 6 (FFmpeg 5.1) are from the PyAV-generated
 * expected frames.  Build:
 *
 *     cc sws_rgb24.c -o sws_rgb24 $(pkg-config --cflags --libs libavformat libavcodec libswscale libavutil)
 */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include <stdio.h>
#include <stdlib.h>

static int emit(AVFrame *f, struct SwsContext **sws) {
    *sws = sws_getCachedContext(*sws, f->width, f->height, f->format, f->width, f->height,
                                AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
    if (!*sws) return -1;
    int stride = f->width * 3;
    uint8_t *buf = malloc((size_t)stride * f->height + 64);
    uint8_t *dst[4] = {buf, NULL, NULL, NULL};
    int dstride[4] = {stride, 0, 0, 0};
    sws_scale(*sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dstride);
    fwrite(buf, 1, (size_t)stride * f->height, stdout);
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s file\n", argv[0]); return 2; }
    AVFormatContext *fmt = NULL;
    if (avformat_open_input(&fmt, argv[1], NULL, NULL) < 0) return 1;
    if (avformat_find_stream_info(fmt, NULL) < 0) return 1;
    int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (si < 0) return 1;
    const AVCodec *codec = avcodec_find_decoder(fmt->streams[si]->codecpar->codec_id);
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(ctx, fmt->streams[si]->codecpar);
    ctx->thread_count = 1;
    if (avcodec_open2(ctx, codec, NULL) < 0) return 1;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    struct SwsContext *sws = NULL;
    int n = 0;
    for (int flushing = 0;;) {
        if (!flushing) {
            int r = av_read_frame(fmt, pkt);
            if (r < 0) { flushing = 1; avcodec_send_packet(ctx, NULL); }
            else if (pkt->stream_index != si) { av_packet_unref(pkt); continue; }
            else { avcodec_send_packet(ctx, pkt); av_packet_unref(pkt); }
        }
        int r;
        while ((r = avcodec_receive_frame(ctx, frame)) == 0) { emit(frame, &sws); n++; av_frame_unref(frame); }
        if (r == AVERROR_EOF) break;
    }
    fprintf(stderr, "%d frames\n", n);
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    avformat_close_input(&fmt);
    return 0;
}
