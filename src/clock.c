/* clock.c: the monotonic clock (clock.h). */
#include <time.h>

#include "clock.h"

double
now_mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
