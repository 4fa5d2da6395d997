#include "eal_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#define EAL_ARGS_MAX 64

struct eal_args_state {
	char *args[EAL_ARGS_MAX];
	int count;
	char reason[200];
	int failed;
	/* What the command line already says, so the file does not repeat it. */
	int cmdline_has_lcores, cmdline_has_memory, cmdline_has_prefix;
};

static int eal_args_push(struct eal_args_state *s, const char *a, const char *b)
{
	if (s->count + 2 > EAL_ARGS_MAX) {
		snprintf(s->reason, sizeof(s->reason), "too many [eal] options");
		return -1;
	}
	s->args[s->count++] = strdup(a);
	if (b != NULL)
		s->args[s->count++] = strdup(b);
	return 0;
}

static int eal_args_bool(const char *value, int *out)
{
	if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
		*out = 1;
	else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int eal_args_handler(void *user, const char *section, const char *key, const char *value)
{
	struct eal_args_state *s = user;
	if (strcmp(section, "eal") != 0 || s->failed)
		return 1;
	int flag = 0, rc = 0;
	char buf[300];
	if (strcmp(key, "lcores") == 0) {
		if (!s->cmdline_has_lcores)
			rc = eal_args_push(s, "-l", value);
	} else if (strcmp(key, "device") == 0) {
		snprintf(buf, sizeof(buf), "--vdev=%s", value);
		rc = eal_args_push(s, buf, NULL);
	} else if (strcmp(key, "pci") == 0) {
		rc = eal_args_push(s, "-a", value);
	} else if (strcmp(key, "memory_mb") == 0) {
		char *end;
		errno = 0;
		unsigned long mb = strtoul(value, &end, 10);
		if (errno != 0 || *end != '\0' || mb < 64 || mb > 1048576) {
			snprintf(s->reason, sizeof(s->reason),
			         "[eal] memory_mb = '%.40s': expected 64 to 1048576", value);
			return 0;
		}
		if (!s->cmdline_has_memory)
			rc = eal_args_push(s, "-m", value);
	} else if (strcmp(key, "hugepages") == 0 || strcmp(key, "no_pci") == 0 ||
	           strcmp(key, "in_memory") == 0) {
		if (eal_args_bool(value, &flag) != 0) {
			snprintf(s->reason, sizeof(s->reason),
			         "[eal] %s = '%.40s': expected yes or no", key, value);
			return 0;
		}
		if (strcmp(key, "hugepages") == 0 && !flag)
			rc = eal_args_push(s, "--no-huge", NULL);
		else if (strcmp(key, "no_pci") == 0 && flag)
			rc = eal_args_push(s, "--no-pci", NULL);
		else if (strcmp(key, "in_memory") == 0 && flag)
			rc = eal_args_push(s, "--in-memory", NULL);
	} else if (strcmp(key, "file_prefix") == 0) {
		snprintf(buf, sizeof(buf), "--file-prefix=%s", value);
		if (!s->cmdline_has_prefix)
			rc = eal_args_push(s, buf, NULL);
	} else {
		snprintf(s->reason, sizeof(s->reason),
		         "unknown key '%.40s' in section [eal] (known: lcores, device, pci, "
		         "memory_mb, hugepages, no_pci, in_memory, file_prefix)",
		         key);
		return 0;
	}
	return rc == 0;
}

static int eal_args_is(const char *arg, const char *short_form, const char *long_form)
{
	return (short_form != NULL && strncmp(arg, short_form, strlen(short_form)) == 0) ||
	       (long_form != NULL && strncmp(arg, long_form, strlen(long_form)) == 0);
}

int eal_args_build(int argc, char **argv, int *out_argc, char ***out_argv, char *error,
                   size_t error_len)
{
	struct eal_args_state s;
	memset(&s, 0, sizeof(s));
	const char *path = NULL;
	int separator = argc;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0 && separator == argc) {
			separator = i;
			continue;
		}
		if (i < separator) {
			s.cmdline_has_lcores |= eal_args_is(argv[i], "-l", "--lcores") ||
			                        eal_args_is(argv[i], "-c", NULL);
			s.cmdline_has_memory |= eal_args_is(argv[i], "-m", "--socket-mem");
			s.cmdline_has_prefix |= eal_args_is(argv[i], NULL, "--file-prefix");
			continue;
		}
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
	}
	if (path != NULL) {
		int line = ini_parse(path, eal_args_handler, &s);
		if (line == -1) {
			snprintf(error, error_len, "%s: cannot open: %s", path, strerror(errno));
			goto fail;
		}
		if (line != 0 || s.reason[0] != '\0') {
			snprintf(error, error_len, "%s:%d: %s", path, line,
			         s.reason[0] ? s.reason : "syntax error");
			goto fail;
		}
	}
	char **v = calloc((size_t)(argc + s.count + 1), sizeof(char *));
	if (v == NULL) {
		snprintf(error, error_len, "out of memory");
		goto fail;
	}
	int n = 0;
	v[n++] = strdup(argv[0]);
	for (int i = 0; i < s.count; i++)
		v[n++] = s.args[i];
	for (int i = 1; i < argc; i++)
		v[n++] = strdup(argv[i]);
	*out_argc = n;
	*out_argv = v;
	return 0;
fail:
	for (int i = 0; i < s.count; i++)
		free(s.args[i]);
	return -1;
}

void eal_args_free(int argc, char **argv)
{
	if (argv == NULL)
		return;
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}
