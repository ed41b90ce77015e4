/* master.h: the supervisor process. */
#ifndef MASTER_H
#define MASTER_H

/* Parse options, open listeners, run and supervise the workers. */
int	master_main(int argc, char *argv[]);

#endif
