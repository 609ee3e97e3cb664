/* atomicfile.h - write a file so that readers see the old or the new
 * contents, never a half-written one.
 *
 * ab_atomicfile_open() creates a temporary file next to the target (same
 * directory, so rename(2) is atomic; named ".<base>.XXXXXX" so collectors
 * that match "*.prom" never read it). Write through ab_atomicfile_stream();
 * ab_atomicfile_commit() flushes, fsyncs, gives the file mode 0666 less the
 * umask, renames it over the target and fsyncs the directory.
 * ab_atomicfile_abort() removes the temporary file. Either one frees the
 * handle; both accept NULL. A file that will hold tickets or personal data
 * (contacts) is marked with ab_atomicfile_private() and gets mode 0600
 * instead, whatever the umask: as private as the database.
 */
#ifndef AB_ATOMICFILE_H
#define AB_ATOMICFILE_H

#include <stdio.h>

#include "err.h"

struct ab_atomicfile;

int ab_atomicfile_open(const char *path, struct ab_atomicfile **out,
                       struct ab_err *err);

/* The committed file gets mode 0600 (the temporary file has it all along). */
void ab_atomicfile_private(struct ab_atomicfile *f);

/* Borrowed: valid until commit or abort. */
FILE *ab_atomicfile_stream(struct ab_atomicfile *f);

int ab_atomicfile_commit(struct ab_atomicfile *f, struct ab_err *err);
void ab_atomicfile_abort(struct ab_atomicfile *f);

#endif
