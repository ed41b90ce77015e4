/* log.c: logging to stderr, the journal or syslog, with the process role,
 * and libevent's own messages routed here. */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

/* The logger's state; one per process, set up before anything logs. */
static struct {
	bool		foreground;	/* stderr rather than syslog */
	bool		journal;	/* stderr is systemd's journal: "<N>"
					   priority prefixes, no timestamp */
	enum log_level	level;		/* most verbose level written */
	char		role[32];	/* "master", "worker 2" */
} logger = { true, false, LOG_LVL_INFO, "qlockd" };

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* Write one line at a level; errnum >= 0 appends strerror. */
static void
log_vwrite(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char		msg[1024];
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	size_t		n;

	if (level > logger.level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum >= 0) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(errnum));
	}
	if (logger.journal)
		fprintf(stderr, "<%d>%s: %s\n", prio[level], logger.role, msg);
	else if (logger.foreground) {
		struct timespec	ts;
		struct tm	tm;
		char		tbuf[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld qlockd[%d] %s %s: %s\n", tbuf,
		    ts.tv_nsec / 1000000, (int)getpid(), logger.role,
		    level_names[level], msg);
	} else
		syslog(prio[level], "%s: %s", logger.role, msg);
}

/* libevent's warnings and errors arrive here. */
static void
log_event_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

/* Whether stderr is the journal: JOURNAL_STREAM names its device and
 * inode (a stderr redirected elsewhere no longer matches), or, with
 * INVOCATION_ID (run by systemd), stderr is a socket. */
static bool
log_stderr_is_journal(void)
{
	struct stat		 st;
	const char		*js = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;

	if (fstat(STDERR_FILENO, &st) == -1)
		return false;
	if (js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	    dev == (unsigned long long)st.st_dev &&
	    ino == (unsigned long long)st.st_ino)
		return true;
	return getenv("INVOCATION_ID") != NULL && S_ISSOCK(st.st_mode);
}

void
log_init(bool foreground, enum log_level level)
{
	logger.foreground = foreground;
	logger.journal = foreground && log_stderr_is_journal();
	logger.level = level;
	if (!foreground)
		openlog("qlockd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	event_set_log_callback(log_event_cb);
}

const char *
log_destination(void)
{
	if (logger.journal)
		return "the journal (stderr, with priorities)";
	if (logger.foreground)
		return "stderr";
	if (access("/dev/log", F_OK) == -1)
		return "syslog (facility daemon), but /dev/log does not exist: "
		    "no syslog daemon runs here and nothing will be kept; "
		    "use -f to log to stderr";
	return "syslog (facility daemon)";
}

void
log_set_role(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(logger.role, sizeof(logger.role), fmt, ap);
	va_end(ap);
}

void
log_set_level(enum log_level level)
{
	logger.level = level;
}

int
log_level_parse(const char *s, enum log_level *level)
{
	size_t	i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

#define LOG_FN(fn, lvl, err)				\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list	ap;					\
	int	saved = errno;				\
							\
	va_start(ap, fmt);				\
	log_vwrite(lvl, err, fmt, ap);			\
	va_end(ap);					\
	errno = saved;					\
}

LOG_FN(log_warn, LOG_LVL_WARN, saved)
LOG_FN(log_warnx, LOG_LVL_WARN, -1)
LOG_FN(log_info, LOG_LVL_INFO, -1)
LOG_FN(log_debug, LOG_LVL_DEBUG, -1)

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERR, -1, fmt, ap);
	va_end(ap);
	exit(1);
}
