#include "i18n.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "progress.h"

/* The zh-CN catalogue. Vocabulary follows the vendor's help centre (契约锁
 * 开放平台): 企业认证, 认证令牌 (ticket), 响应码 (code), 响应消息
 * (message); already_authed (1605, "该公司已完成认证") is 此前已认证, so it
 * does not read like the funnel's 已认证 (authenticated). Keys are the exact
 * English text, conversions included; keep one entry per line so merges
 * stay clean. */
struct entry {
    const char *en, *zh;
};

static const struct entry catalogue[] = {
    /* status */
    {"database", "数据库"},
    {"companies", "企业"},
    {" (%" PRId64 " due)\n", "（其中 %" PRId64 " 家已到重试时间）\n"},
    {"finished", "已处理完毕"},
    {"%.1f%% (%" PRId64 " of %" PRId64 "; %.1f%% failed)\n",
     "%.1f%%（%" PRId64 " / %" PRId64 " 家；失败 %.1f%%）\n"},
    {"next retry", "下次重试"},
    {"%s (in %s)\n", "%s（%s后）\n"},
    {"due now", "已到时间"},
    {"last run", "上次运行"},
    {"none", "无"},
    {"#%" PRId64 " started %s, ", "#%" PRId64 "，开始于 %s，"},
    {"took %s, exit %d\n", "耗时 %s，退出码 %d\n"},
    {"running for %s (pid %" PRId64 ")\n", "已运行 %s（进程号 %" PRId64 "）\n"},
    {"did not finish (pid %" PRId64 " is gone)\n",
     "未正常结束（进程 %" PRId64 " 已不存在）\n"},
    {"%" PRId64 " requests", "%" PRId64 " 次请求"},
    {", %.1f/s", "，每秒 %.1f 次"},
    {"; %" PRId64 " issued, %" PRId64 " already authed, %" PRId64 " failed",
     "；获取令牌 %" PRId64 " 家，此前已认证 %" PRId64 " 家，失败 %" PRId64
     " 家"},
    {"last clean run", "上次无失败运行"},
    {"none yet (a clean run ends with exit 0: nothing failed, nothing left)",
     "尚无（无失败运行指以退出码 0 结束的运行：没有失败，也没有剩余工作）"},

    {"No companies yet: import them with 'authbatch import FILE' (see "
     "'authbatch import --help').",
     "还没有企业：请先用 'authbatch import FILE' 导入（参见 'authbatch import "
     "--help'）。"},

    /* report: text */
    {"none yet", "尚无"},
    {"p50 %" PRId64 "%s, p90 %" PRId64 "%s, p99 %" PRId64 "%s, max %" PRId64
     "%s (%" PRId64 " %s)\n",
     "p50 %" PRId64 "%s，p90 %" PRId64 "%s，p99 %" PRId64 "%s，最大 %" PRId64
     "%s（%" PRId64 " %s）\n"},
    {"authbatch report: ", "authbatch 报告："},
    {" (%s)\n\n", "（%s）\n\n"},
    {"companies %" PRId64 ", finished %" PRId64 " (%.1f%%)\n",
     "企业 %" PRId64 " 家，已处理完毕 %" PRId64 " 家（%.1f%%）\n"},
    {"errors (last answer of companies not done)",
     "错误（尚未完成的企业最近一次的响应）"},
    {"code %" PRId64, "响应码 %" PRId64},
    {"no code", "无响应码"},
    {"%" PRId64 " company (%" PRId64 " failed): ",
     "%" PRId64 " 家企业（%" PRId64 " 家失败）："},
    {"%" PRId64 " companies (%" PRId64 " failed): ",
     "%" PRId64 " 家企业（%" PRId64 " 家失败）："},
    {"e.g. ", "例如 "},
    {"other codes", "其他响应码"},
    {"%" PRId64 " company\n", "%" PRId64 " 家企业\n"},
    {"%" PRId64 " companies\n", "%" PRId64 " 家企业\n"},
    {"attempts per company", "每家企业的请求次数"},
    {"companies tried", "家企业已请求"},
    {"latency", "响应耗时"},
    {"attempts", "次请求"},
    {"runs", "运行记录"},
    {"id", "编号"},
    {"started", "开始时间"},
    {"duration", "耗时"},
    {"requests", "请求数"},
    {"issued", "令牌数"},
    {"failed", "失败"},
    {"req/s", "请求/秒"},
    {"exit", "退出码"},
    {"unfinished", "未结束"},
    {"  last run with nothing failed: %s\n", "  最近一次无失败的运行：%s\n"},
    {"no run has ended with nothing failed and nothing left yet (exit 0)",
     "尚无以退出码 0 结束（没有失败、没有剩余工作）的运行"},
    {" with status %s", "（状态：%s）"},
    {"none yet: import companies with 'authbatch import FILE'",
     "尚无：请先用 'authbatch import FILE' 导入企业"},
    {"STATUS", "状态"},
    {"ATT", "次数"},
    {"CODE", "响应码"},
    {"REGISTER_NO", "注册号"},
    {"COMPANY", "企业名称"},

    /* report: HTML */
    {"authbatch report", "authbatch 报告"},
    {"generated %s", "生成于 %s"},
    {"tickets issued", "已获取认证令牌"},
    {"still to do", "尚未完成"},
    {"last run with nothing failed", "最近一次无失败的运行"},
    {"the last run that ended with exit status 0: nothing failed and "
     "nothing was left to do",
     "最近一次以退出码 0 结束的运行：没有失败，也没有剩余工作"},
    {"Status", "状态"},
    {"companies by status", "各状态的企业数"},
    {"Error codes", "错误响应码"},
    {"No errors.", "没有错误。"},
    {"(out of memory)", "（内存不足）"},
    {"companies by last error code", "按最近一次错误响应码统计的企业数"},
    {"<p class=\"note\">%zu more codes in the table below.</p>\n",
     "<p class=\"note\">另有 %zu 个响应码，见下表。</p>\n"},
    {"Latency", "响应耗时"},
    {"No attempts yet.", "尚无请求。"},
    {"%s and more", "%s 及以上"},
    {"%s to %s", "%s 至 %s"},
    {"attempts by duration", "按耗时统计的请求数"},
    {"<p class=\"note\">%" PRId64 " attempts: p50 %" PRId64 " ms, p90 %" PRId64
     " ms, p99 %" PRId64 " ms, max %" PRId64 " ms.</p>\n</figure>\n",
     "<p class=\"note\">共 %" PRId64 " 次请求：p50 %" PRId64 " ms，p90 %" PRId64
     " ms，p99 %" PRId64 " ms，最大 %" PRId64 " ms。</p>\n</figure>\n"},
    {"1 day", "1 天"},
    {"%" PRId64 " days", "%" PRId64 " 天"},
    {"%" PRId64 " h", "%" PRId64 " 小时"},
    {"%" PRId64 " min", "%" PRId64 " 分钟"},
    {"%" PRId64 " s", "%" PRId64 " 秒"},
    {"Throughput", "吞吐量"},
    {"attempts over time", "请求数随时间的变化"},
    {"<p class=\"note\">Attempts per %s, %" PRId64 " in all.</p>\n</figure>\n",
     "<p class=\"note\">每 %s的请求数，共 %" PRId64 " 次。</p>\n</figure>\n"},
    {"Runs", "各次运行"},
    {"No runs yet.", "尚无运行记录。"},
    {"One run so far: see the run history below. The chart compares runs "
     "once there are several.",
     "目前只有一次运行，详见下方的运行历史；有多次运行时，此处用图表比较各次运"
     "行。"},
    {"requests per run", "每次运行的请求数"},
    {"run %" PRId64 ": %" PRId64 " requests, %" PRId64 " issued, %" PRId64
     " failed, exit %d",
     "运行 #%" PRId64 "：%" PRId64 " 次请求，获取令牌 %" PRId64
     " 家，失败 %" PRId64 " 家，退出码 %d"},
    {"Requests per run, coloured by exit status:",
     "每次运行的请求数，颜色表示退出码："},
    {"0 (nothing failed, nothing left)", "0（没有失败，没有剩余工作）"},
    {"1 or 75 (some failed, or stopped with work left)",
     "1 或 75（部分失败，或停止时仍有剩余工作）"},
    {"other (stopped by an error)", "其他（因错误而停止）"},
    {"running or unfinished.", "运行中或未正常结束。"},
    {"Errors", "错误"},
    {"The last answer of every company that is not done, by code.",
     "尚未完成的企业最近一次的响应，按响应码分组。"},
    {"Code", "响应码"},
    {"Message", "响应消息"},
    {"Companies", "企业"},
    {"Failed", "失败"},
    {"Examples", "示例企业"},
    {"(none)", "（无）"},
    {"; ", "；"},
    {"<p class=\"note\">%" PRId64 " more companies with other codes.</p>\n",
     "<p class=\"note\">另有 %" PRId64 " 家企业为其他响应码。</p>\n"},
    {"Attempts and latency", "请求次数与响应耗时"},
    {"max", "最大"},
    {"Attempts per company tried", "每家已请求企业的请求次数"},
    {"Latency per attempt", "每次请求的响应耗时"},
    {"Run history", "运行历史"},
    {"Run", "运行"},
    {"Started", "开始时间"},
    {"Duration", "耗时"},
    {"Requests", "请求数"},
    {"Issued", "获取令牌"},
    {"Already", "此前已认证"},
    {"Retried", "重试"},
    {"Throttled", "被限流"},
    {"Req/s", "请求/秒"},
    {"Exit", "退出码"},
    {"Filter by any text", "按任意文字筛选"},
    {"filter", "筛选"},
    {"status", "状态"},
    {"all statuses", "全部状态"},
    {"<span id=\"shown\"></span> rows shown. Click a column header to sort.",
     "显示 <span id=\"shown\"></span> 行。点击列标题可排序。"},
    {"Id", "编号"},
    {"Company", "企业名称"},
    {"Register no", "注册号"},
    {"Attempts", "请求次数"},
    {"HTTP", "HTTP"},
    {"Updated (UTC)", "更新时间（UTC）"},
    {"Ticket", "认证令牌"},
    {"Showing the first %" PRId64 " of %" PRId64
     " companies (by id); the charts and tables above count all of them. For "
     "every row use <code>authbatch report --format csv</code>.",
     "仅显示前 %" PRId64 " 家企业（共 %" PRId64
     " 家，按编号排序）；上方的图表和表格统计了全部企业。如需全部行，请使用 "
     "<code>authbatch report --format csv</code>。"},
    /* the funnel (report_funnel.c) */
    {"funnel", "认证漏斗"},
    {"imported", "已导入"},
    {"ticket issued", "已获取令牌"},
    {"in progress", "认证中"},
    {"authenticated", "已认证"},
    {"rejected", "已驳回"},
    {"expired", "已过期"},
    {"unknown", "未知"},
    {"not started", "未开始"},
    {"by auth status", "按认证状态"},
    {"ticket to authenticated: p50 %s, p90 %s (%" PRId64 " companies)\n",
     "从获取令牌到认证通过：p50 %s，p90 %s（%" PRId64 " 家企业）\n"},
    {"rejection reasons", "驳回原因"},
    {"(no reason given)", "（未给出原因）"},
    {"(other reasons)", "（其他原因）"},
    {"Onboarding funnel", "企业认证漏斗"},
    {"Rejection reason", "驳回原因"},
    {"%" PRId64 " status polls; ", "%" PRId64 " 次认证状态查询；"},
};

#define NENTRIES (sizeof catalogue / sizeof catalogue[0])

static const struct {
    const char *status, *zh;
} statuses[] = {
    {"pending", "待处理"},
    {"in_flight", "请求中"},
    {"retry_wait", "等待重试"},
    {"done", "已获取令牌"},
    {"already_authed", "此前已认证"},
    {"failed", "失败"},
};

int ab_i18n_parse(const char *s, enum ab_lang *out)
{
    if (!s || !*s)
        return AB_EINVAL;
    if (strcasecmp(s, "zh") == 0 || strcasecmp(s, "zh-CN") == 0 ||
        strcasecmp(s, "zh_CN") == 0 || strcasecmp(s, "zh-Hans") == 0) {
        *out = AB_LANG_ZH_CN;
        return 0;
    }
    if (strcasecmp(s, "en") == 0 || strncasecmp(s, "en-", 3) == 0 ||
        strncasecmp(s, "en_", 3) == 0 || strcmp(s, "C") == 0 ||
        strcmp(s, "POSIX") == 0) {
        *out = AB_LANG_EN;
        return 0;
    }
    return AB_EINVAL;
}

enum ab_lang ab_i18n_from_env(void)
{
    static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    size_t i;

    for (i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return strncasecmp(v, "zh", 2) == 0 ? AB_LANG_ZH_CN : AB_LANG_EN;
    }
    return AB_LANG_EN;
}

const char *ab_i18n_tag(enum ab_lang lang)
{
    return lang == AB_LANG_ZH_CN ? "zh-CN" : "en";
}

/* Lookup: an index sorted on first use (the program is single-threaded). */
static const struct entry *sorted[NENTRIES];
static int have_sorted;

static int by_en(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a;
    const struct entry *y = *(const struct entry *const *)b;
    return strcmp(x->en, y->en);
}

static int key_cmp(const void *key, const void *b)
{
    return strcmp(key, (*(const struct entry *const *)b)->en);
}

static void report_missing(const char *en)
{
    static const char *reported[64];
    static size_t n;
    const char *check = getenv("AB_I18N_CHECK");
    size_t i;

    if (!check || strcmp(check, "1") != 0)
        return;
    for (i = 0; i < n; i++)
        if (reported[i] == en)
            return;
    if (n < sizeof reported / sizeof reported[0])
        reported[n++] = en;
    fprintf(stderr, "authbatch: i18n: no zh-CN text for \"");
    for (; *en; en++)
        fputs(*en == '\n' ? "\\n" : (char[2]){*en, 0}, stderr);
    fputs("\"\n", stderr);
}

const char *ab_tr(enum ab_lang lang, const char *en)
{
    const struct entry *const *e;
    size_t i;

    if (lang == AB_LANG_EN)
        return en;
    if (!have_sorted) {
        for (i = 0; i < NENTRIES; i++)
            sorted[i] = &catalogue[i];
        qsort(sorted, NENTRIES, sizeof sorted[0], by_en);
        have_sorted = 1;
    }
    e = bsearch(en, sorted, NENTRIES, sizeof sorted[0], key_cmp);
    if (e)
        return (*e)->zh;
    report_missing(en);
    return en;
}

const char *ab_i18n_status(enum ab_lang lang, const char *status)
{
    size_t i;

    if (lang == AB_LANG_EN || !status)
        return status;
    for (i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcmp(status, statuses[i].status) == 0)
            return statuses[i].zh;
    return status;
}

void ab_i18n_duration(enum ab_lang lang, char *buf, size_t n, double secs)
{
    long long s;

    if (lang == AB_LANG_EN || secs < 0) {
        ab_progress_format_duration(buf, n, secs);
        return;
    }
    s = (long long)(secs + 0.5);
    if (s < 60)
        snprintf(buf, n, "%lld秒", s);
    else if (s < 3600)
        snprintf(buf, n, "%lld分%02lld秒", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, n, "%lld小时%02lld分", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, n, "%lld天%02lld小时", s / 86400, s % 86400 / 3600);
}

int ab_i18n_entry(size_t i, const char **en, const char **zh)
{
    if (i >= NENTRIES)
        return -1;
    *en = catalogue[i].en;
    *zh = catalogue[i].zh;
    return 0;
}
