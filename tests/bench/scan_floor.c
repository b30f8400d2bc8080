/*
 * scan_floor.c - what `redis-cli --scan --pattern P --count 1000` does,
 * for redis-cli before 7.2 (no --count): hiredis, one blocking
 * connection, SCAN cursor MATCH P COUNT 1000 to the end, a key a line on
 * stdout. The floor redis_bench.sh holds redis.keyspace against.
 *
 *   scan_floor PORT [PATTERN]
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *pattern = argc > 2 ? argv[2] : "*";
    redisContext *c;
    char cursor[32] = "0";

    if (argc < 2) {
        fputs("usage: scan_floor PORT [PATTERN]\n", stderr);
        return 64;
    }
    c = redisConnect("127.0.0.1", (int)strtol(argv[1], NULL, 10));
    if (c == NULL || c->err) {
        fprintf(stderr, "scan_floor: %s\n", c ? c->errstr : "no memory");
        return 1;
    }
    do {
        redisReply *r =
            redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            fprintf(stderr, "scan_floor: bad reply\n");
            return 1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++)
            puts(r->element[1]->element[i]->str);
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    redisFree(c);
    return 0;
}
