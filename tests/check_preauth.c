/* check_preauth.c: unit tests of the limits on connections that have not
 * authenticated: address keys (IPv6 by /64), the per-address cap, and the
 * back-off of failed handshakes and its bounded table. */
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "config.h"
#include "conn.h"
#include "preauth.h"
#include "suiterun.h"
#include "worker.h"

static struct config	 conf;
static struct worker	*w;

static void
setup(void)
{
	config_defaults(&conf);
	w = calloc(1, sizeof(*w));
	ck_assert_ptr_nonnull(w);
	w->conf = &conf;
	preauth_init(&w->preauth);
}

static void
teardown(void)
{
	preauth_free(&w->preauth);
	free(w);
}

/* The key of a textual IPv4 or IPv6 address. */
static struct preauth_key
key_of(const char *addr)
{
	struct sockaddr_in6	s6;
	struct sockaddr_in	s4;
	struct preauth_key	k;

	memset(&s6, 0, sizeof(s6));
	memset(&s4, 0, sizeof(s4));
	if (inet_pton(AF_INET6, addr, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		preauth_key((struct sockaddr *)&s6, &k);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET, addr, &s4.sin_addr), 1);
		s4.sin_family = AF_INET;
		preauth_key((struct sockaddr *)&s4, &k);
	}
	return k;
}

static bool
same_key(const char *a, const char *b)
{
	struct preauth_key	ka = key_of(a), kb = key_of(b);

	return memcmp(&ka, &kb, sizeof(ka)) == 0;
}

START_TEST(test_preauth_key)
{
	struct sockaddr	unix_sa = { .sa_family = AF_UNIX };
	struct preauth_key k;

	ck_assert(same_key("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"));
	ck_assert(!same_key("2001:db8:1:2::1", "2001:db8:1:3::1"));
	ck_assert(same_key("192.0.2.1", "192.0.2.1"));
	ck_assert(!same_key("192.0.2.1", "192.0.2.2"));
	/* IPv4 through a dual-stack socket is still by address. */
	ck_assert(same_key("::ffff:192.0.2.1", "192.0.2.1"));
	ck_assert(!same_key("::ffff:192.0.2.1", "::ffff:192.0.2.2"));
	preauth_key(&unix_sa, &k);
	ck_assert_int_eq(k.family, 0);
}
END_TEST

START_TEST(test_preauth_per_addr_cap)
{
	struct conn		*c = calloc(40, sizeof(*c));
	struct preauth_key	 a = key_of("192.0.2.7"), b = key_of("192.0.2.8");
	struct preauth_key	 none = { 0 };
	int			 i;

	ck_assert_ptr_nonnull(c);
	conf.max_unauth_per_addr = 32;
	for (i = 0; i < 32; i++) {
		ck_assert(preauth_admit(w, &a));
		c[i].akey = a;
		preauth_add(w, &c[i]);
	}
	ck_assert(!preauth_admit(w, &a));
	ck_assert(preauth_admit(w, &b));	/* another address */
	ck_assert(preauth_admit(w, &none));	/* unix: only the worker cap */
	ck_assert_uint_eq(w->preauth.n, 32);
	ck_assert_ptr_eq(TAILQ_FIRST(&w->preauth.conns), &c[0]);
	preauth_remove(w, &c[0]);
	preauth_remove(w, &c[0]);		/* twice: no effect */
	ck_assert(preauth_admit(w, &a));
	ck_assert_ptr_eq(TAILQ_FIRST(&w->preauth.conns), &c[1]);
	for (i = 1; i < 32; i++)
		preauth_remove(w, &c[i]);
	ck_assert_uint_eq(w->preauth.n, 0);
	ck_assert_uint_eq(w->preauth.counts.count, 0);	/* entries freed */
	free(c);
}
END_TEST

START_TEST(test_preauth_backoff_doubles)
{
	struct preauth_key	a = key_of("2001:db8::1"), b = key_of("192.0.2.1");
	double			expect = PREAUTH_DELAY_MIN, d;
	int			i;

	ck_assert(preauth_delay(w, &a) == 0);
	for (i = 0; i < 10; i++) {
		preauth_failed(w, &a);
		d = preauth_delay(w, &a);
		ck_assert_msg(d > expect - 0.01 && d <= expect,
		    "failure %d: delay %.3f, expected %.3f", i + 1, d, expect);
		expect = expect * 2 > PREAUTH_DELAY_MAX ? PREAUTH_DELAY_MAX :
		    expect * 2;
	}
	ck_assert(preauth_delay(w, &b) == 0);	/* others are not delayed */
}
END_TEST

START_TEST(test_preauth_table_bounded)
{
	struct preauth_key	k;
	char			addr[32];
	int			i;

	/* More failing addresses than slots: the oldest is forgotten. */
	for (i = 0; i < PREAUTH_PENALTIES + 10; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
		k = key_of(addr);
		preauth_failed(w, &k);
	}
	k = key_of("10.0.0.0");
	ck_assert(preauth_delay(w, &k) == 0);
	snprintf(addr, sizeof(addr), "10.0.%d.%d", (PREAUTH_PENALTIES + 9) / 256,
	    (PREAUTH_PENALTIES + 9) % 256);
	k = key_of(addr);
	ck_assert(preauth_delay(w, &k) > 0);
}
END_TEST

static Suite *
preauth_suite(void)
{
	Suite	*s = suite_create("preauth");
	TCase	*tc = tcase_create("limits");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_preauth_key);
	tcase_add_test(tc, test_preauth_per_addr_cap);
	tcase_add_test(tc, test_preauth_backoff_doubles);
	tcase_add_test(tc, test_preauth_table_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(preauth_suite(), CK_FORK_GETENV);
}
