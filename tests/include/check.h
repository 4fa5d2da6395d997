/* Minimal assertions for unit tests: each CHECK counts, a failure prints
 * where and what, and check_finish() sets the exit status. */
#ifndef FTPS_TEST_CHECK_H
#define FTPS_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static unsigned int check_passed, check_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			check_passed++;                                                            \
		} else {                                                                           \
			check_failed++;                                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		unsigned long long check_a_ = (unsigned long long)(a);                             \
		unsigned long long check_b_ = (unsigned long long)(b);                             \
		if (check_a_ == check_b_) {                                                        \
			check_passed++;                                                            \
		} else {                                                                           \
			check_failed++;                                                            \
			fprintf(stderr, "%s:%d: check failed: %s == %s (%llu != %llu)\n",          \
			        __FILE__, __LINE__, #a, #b, check_a_, check_b_);                   \
		}                                                                                  \
	} while (0)

static inline int check_finish(const char *suite)
{
	printf("%s: %u checks passed, %u failed\n", suite, check_passed, check_failed);
	return check_failed == 0 ? 0 : 1;
}

#endif
