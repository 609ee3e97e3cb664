/* i18n.h - the languages `status` and `report` speak: English and
 * Simplified Chinese.
 *
 * Human-readable output (the status text, the text and HTML reports) goes
 * through ab_tr(): the English text is the key, and the catalogue in i18n.c
 * holds its zh-CN translation. A key without one prints in English; with
 * AB_I18N_CHECK=1 in the environment, each such key is also named once on
 * stderr, so a test can render every page in zh-CN and require silence.
 * Machine formats (JSON, CSV column names and values, metrics, status
 * names in data attributes) are never translated.
 *
 * Adding a label: write ab_tr(lang, "English text") where it is printed and
 * add {"English text", "中文"} to the catalogue. A key used as a printf
 * format keeps its conversions in the same order in the translation (the
 * unit test checks that for every entry).
 */
#ifndef AB_I18N_H
#define AB_I18N_H

#include <stddef.h>

enum ab_lang {
    AB_LANG_EN,
    AB_LANG_ZH_CN,
};

/* "en" (also "en-US", "en_GB", "C", ...) or "zh-CN" ("zh_CN", "zh",
 * "zh-Hans"); any case. 0, or AB_EINVAL. */
int ab_i18n_parse(const char *s, enum ab_lang *out);

/* The language the environment asks for: the first of LC_ALL, LC_MESSAGES
 * and LANG that is set and not empty decides; zh-CN when it starts with
 * "zh", English otherwise. */
enum ab_lang ab_i18n_from_env(void);

/* "en" or "zh-CN", as in HTML's lang attribute. */
const char *ab_i18n_tag(enum ab_lang lang);

/* The translation of the English text `en` (borrowed, static), or `en`
 * itself for English and for keys the catalogue lacks. */
const char *ab_tr(enum ab_lang lang, const char *en)
    __attribute__((format_arg(2)));

/* A company status (pending, in_flight, ...) as a reader says it; the
 * machine name itself in English. */
const char *ab_i18n_status(enum ab_lang lang, const char *status);

/* A duration for people: "1h02m" or "1小时02分". */
void ab_i18n_duration(enum ab_lang lang, char *buf, size_t n, double secs);

/* The catalogue, for tests: entry i (0-based) into *en and *zh; 0, or -1
 * past the end. */
int ab_i18n_entry(size_t i, const char **en, const char **zh);

#endif
