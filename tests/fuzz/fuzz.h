/*
 * fuzz.h - what the fuzz targets in tests/fuzz/ share.
 *
 * Each target is one file defining LLVMFuzzerTestOneInput. With
 * -DCUTOVER_FUZZ=ON (clang) it links libFuzzer's main; otherwise it links
 * replay.c, which runs every file of its committed corpus through the
 * same function, so the corpus is a regression suite under CTest.
 *
 * A broken invariant is a crash: FUZZ_CHECK prints why and aborts, which
 * libFuzzer reports with the input that did it.
 */
#ifndef CUTOVER_FUZZ_H
#define CUTOVER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                 \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__,        \
                    __LINE__, #cond);                                         \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* A NUL-terminated copy of the input (the caller frees it). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        abort();
    for (size_t i = 0; i < size; i++)
        s[i] = (char)data[i];
    s[size] = '\0';
    return s;
}

#endif
