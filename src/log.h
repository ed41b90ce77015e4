/* log.h: one logger for every process, with its role in each line. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set up: stderr in the foreground (with "<N>" priority prefixes instead
 * of a timestamp and pid when stderr is systemd's journal), syslog
 * otherwise. */
void	log_init(bool foreground, enum log_level level);
/* Where lines go, in words, for the user starting the daemon. */
const char *log_destination(void);
/* The role shown in every line, e.g. "master" or "worker 2". */
void	log_set_role(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_set_level(enum log_level level);
int	log_level_parse(const char *s, enum log_level *level);

void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A setup syscall failed (errno appended): log and exit 1. */
void	fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A broken invariant or a sibling breaking the protocol: log and exit 1. */
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
