/* status.c: one table mapping C statuses to wire error codes and text. */
#include <string.h>

#include "qlock.h"
#include "status.h"

static const struct {
	int		 status;	/* QLOCK_E* */
	const char	*name;		/* code on the wire */
	const char	*text;		/* for qlock_strerror() */
} status_table[] = {
	{ QLOCK_OK,		NULL,		"success" },
	{ QLOCK_EMPTY,		"Empty",	"queue empty" },
	{ QLOCK_FULL,		"Full",		"queue full" },
	{ QLOCK_TIMEOUT,	"Timeout",	"timed out" },
	{ QLOCK_EAUTH,		"Auth",		"authentication failed" },
	{ QLOCK_ECONN,		"Conn",		"connection failed or broken" },
	{ QLOCK_EPROTO,		"Proto",	"protocol error" },
	{ QLOCK_ETYPE,		"Type",		"name exists as another kind of object" },
	{ QLOCK_ENOTOWNER,	"NotOwner",	"not held by this connection" },
	{ QLOCK_EVALUE,		"Value",	"value out of range" },
	{ QLOCK_EBROKEN,	"Broken",	"barrier broken" },
	{ QLOCK_ENOKEY,		"NoKey",	"no such key" },
	{ QLOCK_ELIMIT,		"Limit",	"limit reached" },
	{ QLOCK_EINVAL,		"Inval",	"invalid argument" },
	{ QLOCK_ENOENT,		"NoEnt",	"no such object" },
	{ QLOCK_EUNAVAIL,	"Unavail",	"owning worker restarted; outcome unknown" },
	{ QLOCK_ECANCELLED,	"Cancelled",	"cancelled" },
	{ QLOCK_ENOTLEADER,	"NotLeader",	"not the leader" },
};
#define NSTATUS (sizeof(status_table) / sizeof(status_table[0]))

const char *
status_name(int status)
{
	if (status > 0 || status <= -(int)NSTATUS)
		return NULL;
	return status_table[-status].name;
}

int
status_from_name(const char *name, size_t len)
{
	size_t	i;

	for (i = 1; i < NSTATUS; i++) {
		if (strlen(status_table[i].name) == len &&
		    memcmp(status_table[i].name, name, len) == 0)
			return status_table[i].status;
	}
	return QLOCK_EPROTO;	/* "NoMethod" and anything unknown */
}

const char *
status_text(int status)
{
	if (status > 0 || status <= -(int)NSTATUS)
		return "unknown status";
	return status_table[-status].text;
}
