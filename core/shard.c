/*
 * shard.c - which shard of `--shard I/N` does which work unit.
 *
 * N CI jobs run `cutover check --shard I/N` on the same config, each
 * alone, with no way to talk to the others. So the split must be a pure
 * function of what every job sees alike: the units' keys and weights.
 * It must also be
 *  - balanced by weight, not by count: one 500 GB table and 300 small
 *    ones are not 301 equal pieces of work;
 *  - stable: a table added between two runs (or whose size estimate
 *    moved) should move few other tables, so a shard's history (its
 *    timings, its flaky table) means something from run to run.
 *
 * Greedy "largest first onto the least loaded shard" balances well but
 * is not stable: one new table shifts every later choice. Rendezvous
 * (highest random weight) hashing is perfectly stable - each unit goes
 * to the shard that scores highest for its key, whatever else exists -
 * but balances only by count. This is rendezvous hashing with bounded
 * loads (after Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing
 * with Bounded Loads"): units are placed largest first, each on its
 * highest-scoring shard that stays under a capacity of (1 + SLACK) times
 * the average load, else on the least loaded shard. A unit keeps its
 * first choice unless that shard is full, so a new unit disturbs only
 * the few placements that its weight pushes over a capacity, and no
 * shard ends above the capacity unless a single unit is bigger than it.
 *
 * Weights are rounded to three significant bits (steps of 12.5-25 %)
 * with integer arithmetic only: an estimate that drifts a little between
 * two jobs' starts (autovacuum refreshing reltuples) changes nothing,
 * and no floating-point rounding can make two jobs disagree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/check.h"

#define SLACK_PCT  15           /* capacity: average load + 15 % */
#define WEIGHT_MAX (1ULL << 48) /* 256 TiB: sums stay far from overflow */

struct placing {
    const char *key;
    size_t at; /* index in the caller's array */
    uint64_t w;
    uint64_t h;
};

/* FNV-1a: spreads short keys well enough for mix64 to finish. */
static uint64_t key_hash(const char *k)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *k; k++) {
        h ^= (unsigned char)*k;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* splitmix64's finaliser. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The rendezvous score of a unit (by its key hash) on shard s. */
static uint64_t score(uint64_t h, int s)
{
    return mix64(h ^ mix64((uint64_t)s + 0x9e3779b97f4a7c15ULL));
}

/* At least 1, at most WEIGHT_MAX, three significant bits kept. */
static uint64_t quantize(double weight)
{
    uint64_t w;
    int top = 63;

    if (!(weight >= 1.0)) /* also NaN */
        return 1;
    w = weight >= (double)WEIGHT_MAX ? WEIGHT_MAX : (uint64_t)weight;
    while (top > 0 && !(w >> top))
        top--;
    if (top > 2)
        w = (w >> (top - 2)) << (top - 2);
    return w;
}

/* Heaviest first; equal weights by key, then by position, so the order
 * is total and the same in every job. */
static int cmp_placing(const void *a, const void *b)
{
    const struct placing *x = a, *y = b;
    int c;

    if (x->w != y->w)
        return x->w > y->w ? -1 : 1;
    c = strcmp(x->key, y->key);
    if (c != 0)
        return c;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* The shard for one unit: its best-scoring shard with room, else the
 * least loaded (ties to the better score). */
static int place(const struct placing *p, const uint64_t *load, int nshards,
                 uint64_t cap)
{
    int best = -1, least = -1;
    uint64_t best_score = 0, least_score = 0;

    for (int s = 0; s < nshards; s++) {
        uint64_t sc = score(p->h, s);

        if (load[s] + p->w <= cap && (best < 0 || sc > best_score)) {
            best = s;
            best_score = sc;
        }
        if (least < 0 || load[s] < load[least] ||
            (load[s] == load[least] && sc > least_score)) {
            least = s;
            least_score = sc;
        }
    }
    return best >= 0 ? best : least;
}

void co_shard_assign(const struct co_shard_unit *u, size_t n, int nshards,
                     int *owner)
{
    struct placing *p;
    uint64_t *load, total = 0, cap;

    if (nshards <= 1 || n == 0) {
        for (size_t i = 0; i < n; i++)
            owner[i] = 0;
        return;
    }
    p = co_calloc(n, sizeof(*p));
    load = co_calloc((size_t)nshards, sizeof(*load));
    for (size_t i = 0; i < n; i++) {
        p[i].key = u[i].key != NULL ? u[i].key : "";
        p[i].at = i;
        p[i].w = quantize(u[i].weight);
        p[i].h = key_hash(p[i].key);
        total += p[i].w;
    }
    qsort(p, n, sizeof(*p), cmp_placing);
    cap = total / (uint64_t)nshards;
    cap += cap * SLACK_PCT / 100;
    for (size_t i = 0; i < n; i++) {
        int s = place(&p[i], load, nshards, cap);

        load[s] += p[i].w;
        owner[p[i].at] = s;
    }
    free(p);
    free(load);
}
