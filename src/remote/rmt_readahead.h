/* SPDX-License-Identifier: MIT */
/*
 * rmt_readahead.h - ranges of remote objects fetched ahead of their reads
 * (private to src/remote/).
 *
 * Readers of a remote object ask for small pieces in order (a streaming
 * zstd decode takes 128 KiB at a time) or name what they will read next
 * (rmt_obj_prefetch()).  One request per piece would make every piece pay
 * a round trip.  So a hint queues the range as parts of RA_PART bytes,
 * aligned in the object, which a pool of worker threads fetches, many at
 * once; a read then copies from the parts it covers, waiting for one still
 * in flight, and fetches only what no part holds.
 *
 * Memory: queued, in-flight and fetched parts together hold at most the
 * budget (ra_configure()); a hint past it queues nothing more.  A part
 * read to its last byte is freed; one fetched and left unread for five
 * seconds (its reader gave up) is dropped when a new hint needs the room.
 *
 * Objects are named by an opaque pointer and fetched through the function
 * given with each hint; ra_forget() must be called before that object goes.
 * The workers start at the first hint; a fork() leaves the child with no
 * workers and no parts.  Thread-safe.
 */
#ifndef RMT_READAHEAD_H
#define RMT_READAHEAD_H

#include <stddef.h>
#include <stdint.h>

#define RA_PART ((uint64_t)4 << 20)

/* Fetch exactly len bytes at off of obj into buf: 0 or -errno. */
typedef int (*ra_fetch_fn)(void *obj, void *buf, size_t len, uint64_t off);

/* Hold at most budget bytes in parts (0: no readahead), fetched by at most
 * workers threads.  Applies to hints from now on. */
void ra_configure(uint64_t budget, unsigned workers);

/* Queue the parts of [off, off + len) of obj (size bytes long) that are
 * not queued yet, as far as the budget allows.  Never fails. */
void ra_prefetch(void *obj, ra_fetch_fn fetch, uint64_t size, uint64_t off,
		 uint64_t len);

/*
 * Read len bytes at off of obj into buf, from the parts that hold them
 * (waiting for those in flight; taking over those still queued) and, for
 * the rest, with fetch.  0 or -errno (a part that failed is fetched again
 * directly, once).
 */
int ra_read(void *obj, ra_fetch_fn fetch, void *buf, size_t len,
	    uint64_t off);

/* Drop every part of obj, waiting for those in flight. */
void ra_forget(void *obj);

/* Bytes held in parts now (tests). */
uint64_t ra_bytes(void);

#endif
