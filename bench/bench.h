/*
 * bench.h - the little every benchmark program shares: Go-style flags
 * (-p 2, -p=2, --p 2), a duration flag in Go's syntax (10ms), /proc/self/status
 * figures, and loud failure. Header-only so each bench/<name>.c stays one
 * program built by one cc line.
 */
#ifndef GOR_BENCH_H
#define GOR_BENCH_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A failed check: says so on stderr and exits 1, never silently. */
static __attribute__((noreturn, format(printf, 1, 2), unused)) void
bench_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("BENCH FAILED: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

enum { BENCH_INT, BENCH_DURATION, BENCH_STRING };

struct bench_flag {
	const char *name; /* without the dash */
	int kind;         /* BENCH_INT: long long; BENCH_DURATION: int64_t ns;
			   * BENCH_STRING: const char * (into argv) */
	void *val;
	const char *help;
};

/* Go's time.ParseDuration for the simple forms: a decimal number and one
 * unit of ns, us, µs, ms, s, m, h ("10ms", "1.5s"). -1 if malformed. */
static int64_t bench_parse_duration(const char *s)
{
	static const struct { const char *u; double ns; } units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "ms", 1e6 },
		{ "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
	};
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	if (*end == 0 && v == 0)
		return 0;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(end, units[i].u) == 0)
			return (int64_t)(v * units[i].ns + 0.5);
	return -1;
}

static void bench_usage(const char *prog, const struct bench_flag *f, size_t n)
{
	fprintf(stderr, "usage: %s", prog);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " [-%s %s]", f[i].name,
			f[i].kind == BENCH_INT ? "N" : f[i].kind == BENCH_STRING ? "STRING" : "DURATION");
	fputc('\n', stderr);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  -%s\t%s\n", f[i].name, f[i].help);
}

/* Parses argv like Go's flag package does for these flags; on a bad or
 * unknown flag prints the usage and exits 2. */
static __attribute__((unused)) void
bench_flags(int argc, char **argv, const struct bench_flag *f, size_t n)
{
	for (int i = 1; i < argc; i++) {
		char *a = argv[i], *eq, *val;
		size_t len;
		size_t k;

		if (a[0] != '-' || a[1] == 0)
			goto bad;
		a += (a[1] == '-') ? 2 : 1;
		if (strcmp(a, "h") == 0 || strcmp(a, "help") == 0) {
			bench_usage(argv[0], f, n);
			exit(0);
		}
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		for (k = 0; k < n; k++)
			if (strlen(f[k].name) == len && strncmp(a, f[k].name, len) == 0)
				break;
		if (k == n)
			goto bad;
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			goto bad;
		if (f[k].kind == BENCH_INT) {
			char *end;

			errno = 0;
			long long v = strtoll(val, &end, 0);
			if (errno || end == val || *end)
				goto bad;
			*(long long *)f[k].val = v;
		} else if (f[k].kind == BENCH_STRING) {
			*(const char **)f[k].val = val;
		} else {
			int64_t d = bench_parse_duration(val);

			if (d < 0)
				goto bad;
			*(int64_t *)f[k].val = d;
		}
		continue;
bad:
		fprintf(stderr, "%s: bad argument '%s'\n", argv[0], argv[i]);
		bench_usage(argv[0], f, n);
		exit(2);
	}
}

#define BENCH_FLAGS(argc, argv, ...)                                          \
	do {                                                                  \
		const struct bench_flag bench_f_[] = { __VA_ARGS__ };         \
		bench_flags((argc), (argv), bench_f_,                         \
			    sizeof bench_f_ / sizeof bench_f_[0]);            \
	} while (0)

/* A "Key:   123 kB" line of /proc/self/status, in KiB; -1 if absent. */
static __attribute__((unused)) long long bench_proc_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t kl = strlen(key);
	long long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtoll(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Flags must be positive counts where the program divides by them. */
static __attribute__((unused)) void bench_positive(const char *name, long long v)
{
	if (v <= 0)
		bench_fail("-%s must be > 0 (got %lld)", name, v);
}

#endif /* GOR_BENCH_H */
