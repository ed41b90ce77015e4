/* parseargs.h: parse a qlockd command line in a unit test, for the tests of
 * config_parse and of what reads its result. */
#ifndef PARSEARGS_H
#define PARSEARGS_H

#include "config.h"

#define PARSEARGS_MAX	16

/* Parse "qlockd" followed by up to PARSEARGS_MAX - 1 arguments (NULL-ended)
 * into c: config_parse's result. */
static inline int
parseargs(struct config *c, const char *const *args)
{
	static char	*argv[PARSEARGS_MAX + 1];
	int		 argc = 0;

	argv[argc++] = (char *)"qlockd";
	while (*args != NULL && argc < PARSEARGS_MAX)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	config_defaults(c);
	return config_parse(c, argc, argv);
}
#endif
