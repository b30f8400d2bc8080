/*
 * sanitize.c - UTF-8 decoding and the XML 1.0-safe form of a string.
 *
 * Database, key and host names are bytes chosen by whoever owns the
 * server, so reports cannot assume they are text. libxml2's writer and
 * jansson either reject such bytes or, worse, pass them through and
 * produce a file no consumer can read. Every reporter therefore runs its
 * strings through co_utf8_sanitize (or, for the terminal, its own
 * escaping built on co_utf8_next) before formatting them.
 */
#include <stdint.h>
#include <string.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "reports.h"

/* The replacement character U+FFFD in UTF-8. */
static const char co_fffd[] = "\xEF\xBF\xBD";

/* Well-formed UTF-8 per Unicode table 3-7: the lead byte fixes the
 * length and the range the second byte may take (which excludes
 * overlongs, surrogates and code points past U+10FFFF). */
static size_t lead_info(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c == 0xE0)
        *lo = 0xA0;
    else if (c == 0xED)
        *hi = 0x9F;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c == 0xF0)
        *lo = 0x90;
    else if (c == 0xF4)
        *hi = 0x8F;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

size_t co_utf8_next(const unsigned char *s, uint32_t *cp)
{
    unsigned char lo, hi;
    size_t n, k;
    uint32_t v;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    n = lead_info(s[0], &lo, &hi);
    if (n == 0) {
        *cp = CO_UTF8_BAD;
        return 1;
    }
    v = s[0] & (0xFF >> (n + 1));
    for (k = 1; k < n; k++) {
        /* A NUL terminator fails this test, so we never read past it. */
        if (s[k] < lo || s[k] > hi) {
            *cp = CO_UTF8_BAD;
            return k;
        }
        v = (v << 6) | (s[k] & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return n;
}

/* XML 1.0 Char: tab, LF, CR, and everything from U+0020 on except the
 * surrogates (already refused by the decoder) and U+FFFE / U+FFFF. */
static int xml_char_ok(uint32_t cp)
{
    if (cp == CO_UTF8_BAD)
        return 0;
    if (cp < 0x20)
        return cp == '\t' || cp == '\n' || cp == '\r';
    return cp != 0xFFFE && cp != 0xFFFF;
}

char *co_utf8_sanitize(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len, n, o = 0;
    uint32_t cp;
    char *out;

    if (s == NULL)
        return NULL;
    len = strlen(s);
    /* Worst case: every byte becomes the 3-byte U+FFFD. */
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    out = co_malloc(len * 3 + 1);
    while (*p != '\0') {
        n = co_utf8_next(p, &cp);
        if (xml_char_ok(cp)) {
            memcpy(out + o, p, n);
            o += n;
        } else {
            memcpy(out + o, co_fffd, 3);
            o += 3;
        }
        p += n;
    }
    out[o] = '\0';
    return out;
}
