/* status.h: the status codes of qlock.h and their names on the wire. */
#ifndef STATUS_H
#define STATUS_H

#include <stddef.h>

/* Wire name of a status ("Empty", "Timeout", ...); NULL for QLOCK_OK or unknown. */
const char *status_name(int status);
/* Status for a wire name; "NoMethod" maps to QLOCK_EPROTO; unknown: QLOCK_EPROTO. */
int status_from_name(const char *name, size_t len);
/* A human sentence for a status. */
const char *status_text(int status);

#endif
