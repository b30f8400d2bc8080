/*
 * ares_loop.h - one turn of the c-ares event loop, shared by name
 * resolution (co_resolve, core/net.c) and DNS queries (co_dns_run,
 * core/dns.c). Private to core/.
 *
 * c-ares never blocks and never owns a thread: the caller owns the loop,
 * ares_getsock -> ares_timeout -> poll -> ares_process_fd, and calls
 * this until its queries are answered, its deadline passes or its cancel
 * flag is set (each turn waits at most 100 ms, so that flag is seen).
 */
#ifndef CUTOVER_ARES_LOOP_H
#define CUTOVER_ARES_LOOP_H

#include <ares.h>
#include <stddef.h>
#include <stdint.h>

/* Waits on the sockets of the n channels (at most until the earliest of
 * their retry timers, the deadline and one 100 ms slice), then lets each
 * channel read, write and run its timers. Returns 0, or -1 with errno
 * set when poll failed. */
int co_ares_step(const ares_channel *ch, size_t n, int64_t deadline);

#endif
