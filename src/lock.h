/* lock.h - one run per database at a time.
 *
 * The lock is an flock(2) on "<database>.lock", which holds the holder's pid
 * for the message a second run prints. The kernel drops it when the process
 * dies, however it dies, so a stale lock file never blocks anyone.
 */
#ifndef AB_LOCK_H
#define AB_LOCK_H

#include "err.h"

struct ab_lock;

/* Takes the lock for db_path without waiting. AB_EBUSY (message naming the
 * holder's pid) if another process holds it; AB_EIO if the file cannot be
 * opened. */
int ab_lock_acquire(const char *db_path, struct ab_lock **out,
                    struct ab_err *err);

/* Releases and frees; NULL is a no-op. The file stays (removing it would
 * race with a process that has just opened it). */
void ab_lock_release(struct ab_lock *l);

#endif
