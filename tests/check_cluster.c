/* check_cluster.c: unit tests of the cluster settings (--node-id, --peer,
 * --raft-dir): parsing one peer, and checking them together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "cluster.h"
#include "config.h"
#include "parseargs.h"
#include "suiterun.h"


/* cluster_check's verdict on a command line that parses. */
static int
check(const char *const *args)
{
	struct config	c;
	int		rc;

	ck_assert_int_eq(parseargs(&c, args), 0);
	rc = cluster_check(&c);
	config_free(&c);
	return rc;
}

START_TEST(test_cluster_peer_parse)
{
	static const char *const bad[] = {
		"", "1", "1=", "=127.0.0.1:1", "0=127.0.0.1:1",
		"65536=127.0.0.1:1", "x=127.0.0.1:1", "1=127.0.0.1",
		"1=127.0.0.1:0", "1=127.0.0.1:65536", "1=127.0.0.1:", "1=:80",
		"1=256.1.1.1:80", "1=1.2.3:80", "1=::1:80", "1=[::1]80",
		"1=[zz::1]:80", "1=[::1:80", "1=bad_name:80", "1=a..b:80",
		"1=.a:80", "1=127.0.0.1:8x", "-1=127.0.0.1:80",
	};
	struct cluster_peer	p;
	char			why[256];
	size_t			i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(cluster_peer_parse(bad[i], &p, why,
		    sizeof why) == -1, "'%s' was accepted", bad[i]);
	ck_assert_int_eq(cluster_peer_parse("3=10.0.0.7:7460", &p, why,
	    sizeof why), 0);
	ck_assert_int_eq(p.id, 3);
	ck_assert_str_eq(p.host, "10.0.0.7");
	ck_assert_int_eq(p.port, 7460);
	ck_assert_int_eq(cluster_peer_parse("65535=[fe80::1]:1", &p, why,
	    sizeof why), 0);
	ck_assert_int_eq(p.id, 65535);
	ck_assert_str_eq(p.host, "fe80::1");
	ck_assert_int_eq(p.port, 1);
	ck_assert_int_eq(cluster_peer_parse("2=node-b.example:65535", &p, why,
	    sizeof why), 0);
	ck_assert_str_eq(p.host, "node-b.example");
}
END_TEST

START_TEST(test_cluster_check_accepts)
{
	const char	*none[] = { NULL };
	const char	*three[] = { "--node-id", "2", "--raft-dir", "/r",
			    "-w", "4", "--peer", "1=127.0.0.1:9000",
			    "--peer", "2=127.0.0.1:9004",
			    "--peer", "3=[::1]:9000", NULL };
	const char	*alone[] = { "--node-id", "7", "--raft-dir", "/r",
			    "--peer", "7=localhost:9000", NULL };

	ck_assert_int_eq(check(none), 0);
	ck_assert_int_eq(check(three), 0);
	ck_assert_int_eq(check(alone), 0);
}
END_TEST

START_TEST(test_cluster_check_refuses)
{
	static const char *const bad[][PARSEARGS_MAX] = {
		/* --node-id or --raft-dir without --peer */
		{ "--node-id", "1", NULL },
		{ "--raft-dir", "/r", NULL },
		/* --peer without --node-id, without --raft-dir */
		{ "--raft-dir", "/r", "--peer", "1=127.0.0.1:9000", NULL },
		{ "--node-id", "1", "--peer", "1=127.0.0.1:9000", NULL },
		/* this node is not a peer */
		{ "--node-id", "3", "--raft-dir", "/r", "--peer",
		  "1=127.0.0.1:9000", "--peer", "2=127.0.0.1:9100", NULL },
		/* an id twice */
		{ "--node-id", "1", "--raft-dir", "/r", "--peer",
		  "1=127.0.0.1:9000", "--peer", "1=127.0.0.2:9000", NULL },
		/* groups' ports overlap on one host: 2 workers, 9000-9001 */
		{ "--node-id", "1", "--raft-dir", "/r", "-w", "2", "--peer",
		  "1=127.0.0.1:9000", "--peer", "2=127.0.0.1:9001", NULL },
		/* the last group's port past 65535 */
		{ "--node-id", "1", "--raft-dir", "/r", "-w", "3", "--peer",
		  "1=127.0.0.1:65534", NULL },
		/* an address that does not parse */
		{ "--node-id", "1", "--raft-dir", "/r", "--peer",
		  "1=127.0.0.1:9000", "--peer", "2=300.0.0.1:9000", NULL },
		/* the single-node log with a cluster */
		{ "--node-id", "1", "--raft-dir", "/r", "--data-dir", "/d",
		  "--peer", "1=127.0.0.1:9000", NULL },
	};
	size_t	i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(check(bad[i]) == -1, "case %zu was accepted", i);
}
END_TEST

START_TEST(test_cluster_config_parse)
{
	const char	*args[] = { "--peer", "1=127.0.0.1:9000", "--peer",
			    "2=127.0.0.1:9100", "--node-id", "65535", NULL };
	const char	*big[] = { "--node-id", "65536", NULL };
	const char	*zero[] = { "--node-id", "0", NULL };
	const char	*empty[] = { "--peer", "", NULL };
	struct config	 c;

	ck_assert_int_eq(parseargs(&c, args), 0);
	ck_assert_int_eq(c.npeer, 2);
	ck_assert_str_eq(c.peer[1], "2=127.0.0.1:9100");
	ck_assert_int_eq(c.node_id, 65535);
	config_free(&c);
	ck_assert_int_eq(parseargs(&c, big), -1);
	config_free(&c);
	ck_assert_int_eq(parseargs(&c, zero), -1);
	config_free(&c);
	ck_assert_int_eq(parseargs(&c, empty), -1);
	config_free(&c);
}
END_TEST

static Suite *
cluster_suite(void)
{
	Suite	*s = suite_create("check_cluster");
	TCase	*tc = tcase_create("settings");

	tcase_add_test(tc, test_cluster_peer_parse);
	tcase_add_test(tc, test_cluster_check_accepts);
	tcase_add_test(tc, test_cluster_check_refuses);
	tcase_add_test(tc, test_cluster_config_parse);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(cluster_suite(), CK_FORK_GETENV);
}
