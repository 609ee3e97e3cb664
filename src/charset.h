/* charset.h - the encodings spreadsheets write, to and from UTF-8, through
 * glibc's iconv.
 *
 * Everything authbatch stores and renders is UTF-8. Input files may come in
 * UTF-8 (with or without a byte order mark), GB18030 (Excel's "CSV" on
 * Chinese Windows writes code page 936, GBK, a subset of GB18030) or
 * UTF-16 with a byte order mark (Excel's "Unicode text"). The decoder turns
 * any of them into UTF-8 as a stream: memory does not grow with the input.
 * The encoder is the way back, for files a user opens in Excel.
 *
 * Detection (AB_CHARSET_AUTO): a byte order mark decides (UTF-8, UTF-16LE,
 * UTF-16BE, GB18030's 84 31 95 33). Without one, bytes up to the first one
 * above 0x7F are ASCII, which reads the same in UTF-8 and GB18030; from that
 * byte on, a window of AB_CHARSET_WINDOW bytes (or the rest of the input,
 * if shorter) is examined: valid UTF-8 is UTF-8; otherwise a window that
 * decodes without a single error as GB18030 (a lone 0x80, code page 936's
 * euro sign, counting as one) is GB18030; anything else is
 * UTF-8 (whose rows are then rejected as invalid UTF-8 by validation). A
 * sequence cut by the end of the window is not held against either.
 */
#ifndef AB_CHARSET_H
#define AB_CHARSET_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

enum ab_charset {
    AB_CHARSET_AUTO, /* input only: detect as above */
    AB_CHARSET_UTF8,
    AB_CHARSET_GB18030,
    AB_CHARSET_UTF16, /* input: the byte order mark decides; none: LE */
    AB_CHARSET_UTF16LE,
    AB_CHARSET_UTF16BE,
};

#define AB_CHARSET_WINDOW (64 * 1024)

/* "auto", "utf-8" (or "utf8"), "gb18030" (also "gbk", "cp936": GB18030 reads
 * both), "utf-16", "utf-16le", "utf-16be"; any case. 0, or AB_EINVAL. */
int ab_charset_parse(const char *s, enum ab_charset *out);

/* "UTF-8", "GB18030", "UTF-16LE", ...; "auto" for AB_CHARSET_AUTO. */
const char *ab_charset_name(enum ab_charset cs);

/* Length of the valid UTF-8 sequence at s (shortest form, no surrogates, at
 * most U+10FFFF) within n bytes, or 0 when s[0..n) does not start with one.
 * n must be at least 1. */
size_t ab_utf8_len(const char *s, size_t n);

/* --- decoding ----------------------------------------------------------- */

/* Where the decoder's output goes. on_text gets UTF-8, in order, in pieces
 * of any size (borrowed for the call). An invalid or truncated sequence is
 * reported through on_error (the offending bytes, at most 4, borrowed, and
 * whether the input ended inside a character), then appears in the text as
 * U+FFFD, so the shape of the text (lines, fields) is kept. */
struct ab_decoder_sink {
    void (*on_text)(void *ctx, const char *s, size_t n);
    void (*on_error)(void *ctx, const unsigned char *bytes, size_t n,
                     int truncated);
    void *ctx;
};

struct ab_decoder;

/* A decoder for input in cs (AB_CHARSET_AUTO: detect). The sink is copied.
 * 0, AB_ENOMEM, or AB_EINVAL when iconv has no such converter. */
int ab_decoder_new(enum ab_charset cs, const struct ab_decoder_sink *sink,
                   struct ab_decoder **out, struct ab_err *err);
void ab_decoder_free(struct ab_decoder *d);

/* Decodes n more bytes. Returns 0, or AB_EDATA when the input starts with a
 * byte order mark that contradicts the encoding asked for (err says which;
 * nothing more is decoded), or AB_ENOMEM. */
int ab_decoder_feed(struct ab_decoder *d, const char *s, size_t n,
                    struct ab_err *err);

/* The end of the input: decides what was still undecided, reports a
 * character cut short by the end. Same returns as _feed. */
int ab_decoder_finish(struct ab_decoder *d, struct ab_err *err);

/* What the input is being read as: AB_CHARSET_AUTO while undecided (all
 * text so far was ASCII), then UTF8, GB18030, UTF16LE or UTF16BE. */
enum ab_charset ab_decoder_charset(const struct ab_decoder *d);

/* 1 when the input started with a byte order mark (skipped, not in the
 * text). */
int ab_decoder_had_bom(const struct ab_decoder *d);

/* 1 when AB_CHARSET_AUTO chose GB18030 by examining the bytes. */
int ab_decoder_detected(const struct ab_decoder *d);

/* When AB_CHARSET_AUTO found the window not UTF-8: how many invalid
 * sequences it has as GB18030 (0: it chose GB18030). -1 otherwise. A few
 * means a GB18030 file with damaged characters, which is not guessed at:
 * the caller can say so and suggest --encoding gb18030. */
long ab_decoder_gb18030_errors(const struct ab_decoder *d);

/* --- encoding ----------------------------------------------------------- */

/* A stream that takes UTF-8 and writes it to `under` (borrowed; it must
 * outlive the encoder) in cs: UTF8 passes bytes through unchanged (no
 * check), after EF BB BF if bom is set; GB18030 and UTF-16LE/BE convert
 * (UTF-16 gets its byte order mark when bom is set; GB18030 never has one).
 * AB_CHARSET_AUTO passes ASCII through and fails on anything else until
 * ab_encoder_set_charset() names the encoding (for output that must follow
 * an input whose encoding is not known yet; ASCII is the same in both).
 *
 * Text that cannot be converted (a character the target has no code for,
 * bytes that are not UTF-8, a sequence cut short at the end) is an error,
 * never a substitute character: the stream's write fails (ferror is set,
 * errno EILSEQ) and ab_encoder_close() returns AB_EDATA with the character
 * named. */
struct ab_encoder;

int ab_encoder_open(FILE *under, enum ab_charset cs, int bom,
                    struct ab_encoder **out, struct ab_err *err);

/* Borrowed: valid until ab_encoder_close(). */
FILE *ab_encoder_stream(struct ab_encoder *e);

/* Names the encoding of an AB_CHARSET_AUTO encoder (UTF8 or GB18030; the
 * byte order mark was settled when it was opened). 0, or AB_EINVAL. */
int ab_encoder_set_charset(struct ab_encoder *e, enum ab_charset cs);

/* Flushes everything into `under` (not flushed or closed here) and frees e.
 * 0; AB_EDATA for text that could not be converted, with err naming it;
 * AB_EIO when `under` failed. NULL is a no-op. */
int ab_encoder_close(struct ab_encoder *e, struct ab_err *err);

#endif
