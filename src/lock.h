/* lock.h - one run per database at a time.
 *
 * The lock is the database file's identity, not its name: an flock(2) on
 * the database file itself (device and inode), taken through the path with
 * every symbolic link resolved first and opened with O_NOFOLLOW, so a run
 * through a symlink, a hard link or a relative path meets the same lock.
 * "<resolved database>.lock" holds the holder's pid for the message a second
 * run prints. The kernel drops the flock when the process dies, however it
 * dies, so a stale lock never blocks anyone.
 *
 * flock and SQLite's own (fcntl) locks are independent on Linux's local
 * file systems. Closing any descriptor of the database file drops the
 * process's fcntl locks on it, SQLite's included: release the run lock only
 * after the database is closed. Network file systems are not supported (nor
 * is WAL mode on them).
 */
#ifndef AB_LOCK_H
#define AB_LOCK_H

#include "err.h"

struct ab_lock;

/* Takes the lock for db_path without waiting, creating the database file
 * (mode 0600) if it does not exist. AB_EBUSY (message naming the holder's
 * pid) if another process holds it; AB_EIO if a file cannot be opened. */
int ab_lock_acquire(const char *db_path, struct ab_lock **out,
                    struct ab_err *err);

/* The database path with every symbolic link resolved: open the database
 * through this, so that the file locked is the file used. */
const char *ab_lock_db_path(const struct ab_lock *l);

/* 1 when another process holds the lock for db_path now, 0 when none does
 * (or the database does not exist). Takes nothing. Call it before this
 * process opens the database (see above: it opens and closes a descriptor
 * of the file). */
int ab_lock_held(const char *db_path);

/* Releases and frees; NULL is a no-op. The files stay (removing the lock
 * file would race with a process that has just opened it). */
void ab_lock_release(struct ab_lock *l);

#endif
