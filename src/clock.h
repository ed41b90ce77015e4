/* clock.h: the monotonic clock in seconds, one definition for the daemon,
 * libqlock, qlock(1) and qlock-bench. */
#ifndef CLOCK_H
#define CLOCK_H

/* Monotonic time in seconds. */
double	now_mono(void);

#endif
