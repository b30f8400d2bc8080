/*
 * reports.h - private to reports/: the reporter descriptors that
 * reporters.c lists, and the small helpers every format shares (UTF-8
 * decoding, grouping results by check, locale-proof number and time
 * formatting). Nothing outside reports/ includes this file.
 */
#ifndef CUTOVER_REPORTS_H
#define CUTOVER_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cutover/result.h"
#include "cutover/util.h"

extern const struct co_reporter co_reporter_junit;
extern const struct co_reporter co_reporter_json;
extern const struct co_reporter co_reporter_markdown;
extern const struct co_reporter co_reporter_text;
extern const struct co_reporter co_reporter_openmetrics;
extern const struct co_reporter co_reporter_github;
extern const struct co_reporter co_reporter_codequality;

/* "CHECK RESOURCE/CASE", XML 1.0-safe UTF-8: how a case is titled on
 * every CI surface (workflow commands, Code Quality, the JUnit recipe).
 * Allocated. */
char *co_report_title(const struct co_result *r, const struct co_case *c);

/* The case's message as CI surfaces show it: an `error` starts with
 * "could not check: " (unless it already does), so it reads apart from
 * a failure where a consumer shows both the same way. Allocated. */
char *co_report_case_message(const struct co_case *c);

/* message, then "\nsource: S" and "\ntarget: T" for the values the case
 * compares (those it has): the long text of a case on CI surfaces (a
 * JUnit failure's body, a workflow annotation). Allocated. */
char *co_report_case_body(const struct co_case *c, const char *message);

/* How a reporter's write ends: 0, or -1 when failed is set or out has
 * its error flag, with errno as the failing call left it (EIO when
 * nothing set it). */
int co_report_written(FILE *out, bool failed);

/* Writes the whole of b to out (nothing when b is empty), frees b, and
 * ends like co_report_written. For the formats built in a co_buf. */
int co_report_put(struct co_buf *b, FILE *out);

/* Marks an invalid sequence in co_utf8_next's *cp. */
#define CO_UTF8_BAD UINT32_MAX

/* Decodes the UTF-8 sequence at s (s[0] != 0). Returns the bytes
 * consumed (at least 1). *cp is the code point, or CO_UTF8_BAD when the
 * consumed bytes are an ill-formed sequence (overlong, surrogate, beyond
 * U+10FFFF, truncated: its maximal subpart, as Unicode recommends, so
 * one bad sequence becomes one replacement character). */
size_t co_utf8_next(const unsigned char *s, uint32_t *cp);

/* True when rep->results[i] is the first result of its check id: the
 * reporters group by check in order of first appearance, even if a
 * caller did not keep a check's results together. */
bool co_report_check_first(const struct co_report *rep, size_t i);

/* Milliseconds rounded to an integer, never negative (NaN -> 0). */
long long co_ms_round(double ms);

/* Seconds from milliseconds with `decimals` (0..3) digits after a '.',
 * built from integers so no locale can turn the point into a comma. */
void co_fmt_seconds(double ms, int decimals, char *out, size_t outlen);

/* UTC "YYYY-MM-DDTHH:MM:SS", with a trailing 'Z' when zulu is set. A
 * non-positive t means "now". */
void co_fmt_utc(double t, bool zulu, char *out, size_t outlen);

#endif
