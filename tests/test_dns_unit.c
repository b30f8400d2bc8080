/*
 * test_dns_unit.c - co_dns_parse() on literal DNS replies: the answer
 * chain with per-record TTLs (compressed names included), rcodes, and
 * malformed or truncated buffers, which must be refused rather than
 * read past. No network.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/dns.h"
#include "tu_suite.h"

/* legacy.cutover.test A: CNAME (TTL 86400) to app-1234.herokudns.
 * cutover.test (compressed against the question) then its A record (TTL
 * 300, owner a pointer into the CNAME's data). */
static const unsigned char legacy_reply[] = {
    0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
    /* question at 12: legacy.cutover.test A IN */
    6, 'l', 'e', 'g', 'a', 'c', 'y', 7, 'c', 'u', 't', 'o', 'v', 'e', 'r', 4,
    't', 'e', 's', 't', 0, 0x00, 0x01, 0x00, 0x01,
    /* answer 1 at 37: CNAME, TTL 86400, data at 49 */
    0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x01, 0x51, 0x80, 0x00, 21, 8,
    'a', 'p', 'p', '-', '1', '2', '3', '4', 9, 'h', 'e', 'r', 'o', 'k', 'u',
    'd', 'n', 's', 0xc0, 19,
    /* answer 2: A, owner -> 49, TTL 300, 127.0.0.1 */
    0xc0, 49, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 127,
    0, 0, 1};

START_TEST(test_cname_chain_with_ttls)
{
    struct co_dns_answer a;
    char err[256];

    ck_assert_int_eq(
        co_dns_parse(legacy_reply, sizeof(legacy_reply), &a, err, sizeof(err)),
        0);
    ck_assert_int_eq(a.rcode, 0);
    ck_assert_uint_eq(a.n, 2);
    ck_assert_str_eq(a.v[0].name, "legacy.cutover.test");
    ck_assert_int_eq(a.v[0].type, CO_DNS_CNAME);
    ck_assert_uint_eq(a.v[0].ttl, 86400);
    ck_assert_str_eq(a.v[0].data, "app-1234.herokudns.cutover.test");
    ck_assert_str_eq(a.v[1].name, "app-1234.herokudns.cutover.test");
    ck_assert_int_eq(a.v[1].type, CO_DNS_A);
    ck_assert_uint_eq(a.v[1].ttl, 300);
    ck_assert_str_eq(a.v[1].data, "127.0.0.1");
    co_dns_answer_free(&a);
}
END_TEST

START_TEST(test_aaaa_and_uppercase_owner)
{
    static const unsigned char reply[] = {
        0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
        /* question: V6.Cutover.test AAAA */
        2, 'V', '6', 7, 'C', 'u', 't', 'o', 'v', 'e', 'r', 4, 't', 'e', 's',
        't', 0, 0, 28, 0, 1,
        /* answer: owner -> 12, AAAA, TTL 60, ::1 */
        0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 1};
    struct co_dns_answer a;
    char err[256];

    ck_assert_int_eq(co_dns_parse(reply, sizeof(reply), &a, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(a.n, 1);
    ck_assert_str_eq(a.v[0].name, "v6.cutover.test");
    ck_assert_str_eq(co_dns_type_name(a.v[0].type), "AAAA");
    ck_assert_uint_eq(a.v[0].ttl, 60);
    ck_assert_str_eq(a.v[0].data, "::1");
    co_dns_answer_free(&a);
}
END_TEST

START_TEST(test_nxdomain_rcode_no_records)
{
    unsigned char reply[37];
    struct co_dns_answer a;
    char err[256];

    memcpy(reply, legacy_reply, sizeof(reply));
    reply[3] = 0x83; /* RA + NXDOMAIN */
    reply[7] = 0;    /* no answers */
    ck_assert_int_eq(co_dns_parse(reply, sizeof(reply), &a, err, sizeof(err)),
                     0);
    ck_assert_int_eq(a.rcode, 3);
    ck_assert_uint_eq(a.n, 0);
    co_dns_answer_free(&a);
}
END_TEST

START_TEST(test_truncated_is_refused)
{
    struct co_dns_answer a;
    char err[256];

    /* Every prefix shorter than the whole reply loses part of a record
     * (or the header) and must be an error, never a read past the end. */
    for (size_t len = 0; len < sizeof(legacy_reply); len++) {
        unsigned char *copy = malloc(len + 1);
        memcpy(copy, legacy_reply, len);
        ck_assert_msg(co_dns_parse(copy, len, &a, err, sizeof(err)) < 0,
                      "prefix of %zu bytes parsed", len);
        ck_assert_ptr_nonnull(strstr(err, "malformed DNS reply"));
        ck_assert_uint_eq(a.n, 0);
        free(copy);
    }
}
END_TEST

START_TEST(test_bad_rdata_and_pointer_loop)
{
    unsigned char reply[sizeof(legacy_reply)];
    struct co_dns_answer a;
    char err[256];

    /* An A record claiming 3 bytes of address. */
    memcpy(reply, legacy_reply, sizeof(reply));
    reply[sizeof(reply) - 5] = 3;
    ck_assert_int_lt(
        co_dns_parse(reply, sizeof(reply) - 1, &a, err, sizeof(err)), 0);
    /* A compression pointer to itself. */
    memcpy(reply, legacy_reply, sizeof(reply));
    reply[37] = 0xc0;
    reply[38] = 37;
    ck_assert_int_lt(co_dns_parse(reply, sizeof(reply), &a, err, sizeof(err)),
                     0);
}
END_TEST

START_TEST(test_name_helpers)
{
    char n[] = "App.Cutover.TEST.";

    co_dns_name_norm(n);
    ck_assert_str_eq(n, "app.cutover.test");
    ck_assert(co_dns_name_eq("a.B.c.", "A.b.C"));
    ck_assert(!co_dns_name_eq("a.b.c", "a.b.cd"));
    ck_assert(!co_dns_name_eq("a.b", NULL));
}
END_TEST

static Suite *dns_unit_suite(void)
{
    Suite *s = suite_create("dns_unit");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, test_cname_chain_with_ttls);
    tcase_add_test(tc, test_aaaa_and_uppercase_owner);
    tcase_add_test(tc, test_nxdomain_rcode_no_records);
    tcase_add_test(tc, test_truncated_is_refused);
    tcase_add_test(tc, test_bad_rdata_and_pointer_loop);
    tcase_add_test(tc, test_name_helpers);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = dns_unit_suite);
