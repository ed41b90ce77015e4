/* fuzz_config.c: libFuzzer target for the command line and the config
 * file: the input is a few NUL-separated arguments, then the text of the
 * file --config names; parsed, then reloaded as SIGHUP does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define MAX_ARGS	16

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char	path[] = "/tmp/qlockd-fuzz-config.XXXXXX";	/* the file */
static int	fd = -1;

static void
remove_file(void)
{
	unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 c;
	char		*argv[MAX_ARGS + 4], *copy, *p, *end;
	int		 argc = 0, nargs;

	if (size == 0)
		return 0;
	if (fd == -1) {
		if ((fd = mkstemp(path)) == -1)
			abort();
		atexit(remove_file);
	}
	nargs = data[0] % MAX_ARGS;
	copy = malloc(size);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	end = copy + size - 1;
	argv[argc++] = (char *)"qlockd";
	for (p = copy; argc <= nargs && p < end; p += strlen(p) + 1) {
		/* Only --config opens a file, and only ours. */
		if (strchr(p, '/') != NULL)
			goto out;
		argv[argc++] = p;
	}
	if (data[0] & 0x80) {
		/* The rest of the input is the config file. */
		if (ftruncate(fd, 0) == -1 ||
		    pwrite(fd, p, p < end ? (size_t)(end - p) : 0, 0) < 0)
			abort();
		argv[argc++] = (char *)"--config";
		argv[argc++] = path;
	}
	argv[argc] = NULL;
	config_defaults(&c);
	if (config_parse(&c, argc, argv) == 0)
		(void)config_reload(&c, data[0] & 0x40);
	config_free(&c);
out:
	free(copy);
	return 0;
}
