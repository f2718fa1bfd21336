/*
 * main.c - gor-lab: runs a gor program at several MAXPROCS values and
 * prints one table, so that what more Ps buy (or cost) is measured, not
 * guessed.
 *
 *   gor-lab sweep [-p 1,2,4] [-r N] [-v] [--no-trace] -- PROG [ARGS...]
 *     -p LIST       MAXPROCS values (default: 1, every power of two below
 *                   the CPU count, and the CPU count)
 *     -r N          timed runs per value; the fastest is shown (default 1)
 *     -v            let the program's standard output through
 *     --no-trace    no traced run: no parallelism or scheduler counts
 *
 * For each value P the program runs with GOR_MAXPROCS=P, r times for the
 * clock and once more with GOR_TRACE set to a temporary file. The timed
 * runs are untraced because recording costs 20-40 ns per event, which
 * would inflate the time of a program that switches goroutines often.
 * Columns:
 *   wall         elapsed time of the fastest timed run (CLOCK_MONOTONIC)
 *   CPU          user + system time of that run's process (wait4)
 *   speedup      wall time at P=1 (the first value, if 1 is not listed)
 *                divided by this wall time
 *   parallelism  the traced run's average number of goroutines running at
 *                once (gor-trace's parallelism histogram)
 *   ctx, steals, hand-offs: the traced run's runs started (switches to a
 *                goroutine), steals by idle Ps, and P hand-offs
 * A traced run whose trace hit GOR_TRACE_LIMIT is marked '*': its figures
 * cover the recorded part only.
 *
 * The trace is read with gor-trace's own model (tools/gor-trace/model.c),
 * so the figures are those `gor-trace` prints for the same file.
 * Exit status: 0; 1 when a run fails (the program exits non-zero, is
 * killed, or cannot run) or its trace cannot be read; 2 for a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gortrace.h"

enum { MAXVALUES = 64, MAXPROCS_LIMIT = 256 };

struct opts {
	int procs[MAXVALUES];
	int nprocs;
	int repeat;
	bool verbose, trace;
	char **argv; /* the program and its arguments */
};

/* One run's outcome. */
struct run {
	int64_t wall, cpu; /* ns */
	int status;        /* wait status */
};

/* One row of the table. */
struct row {
	int p;
	struct run best;
	bool traced, truncated;
	double par;
	size_t ctx, steals, handoffs;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: gor-lab sweep [-p 1,2,4] [-r N] [-v] [--no-trace] -- PROG [ARGS...]\n"
		   "  -p LIST       MAXPROCS values, comma-separated (default: 1, the powers of\n"
		   "                two below the CPU count, and the CPU count)\n"
		   "  -r N          timed runs per value, the fastest shown (default 1)\n"
		   "  -v            show the program's standard output\n"
		   "  --no-trace    skip the traced run (no parallelism or scheduler counts)\n");
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int ncpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* 1, 2, 4... below n, then n (as the task says: P=1 is the baseline). */
static void defaultprocs(struct opts *o, int n)
{
	o->nprocs = 0;
	for (int p = 1; p < n && o->nprocs < MAXVALUES - 1; p *= 2)
		o->procs[o->nprocs++] = p;
	o->procs[o->nprocs++] = n;
}

/* "1,2,4": 0, or -1 for anything but positive numbers up to the limit. */
static int parseprocs(struct opts *o, const char *s)
{
	o->nprocs = 0;
	for (;;) {
		char *end;
		errno = 0;
		long v = strtol(s, &end, 10);
		if (errno || end == s || v < 1 || v > MAXPROCS_LIMIT || o->nprocs == MAXVALUES)
			return -1;
		o->procs[o->nprocs++] = (int)v;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

/* Runs the program once with GOR_MAXPROCS=p, and GOR_TRACE=trace unless
 * NULL. -1 if it could not be started at all. */
static int runonce(const struct opts *o, int p, const char *trace, struct run *r)
{
	char procs[16];
	snprintf(procs, sizeof procs, "%d", p);
	fflush(NULL);
	int64_t t0 = now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "gor-lab: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		setenv("GOR_MAXPROCS", procs, 1);
		if (trace)
			setenv("GOR_TRACE", trace, 1);
		else
			unsetenv("GOR_TRACE");
		if (!o->verbose && freopen("/dev/null", "w", stdout) == NULL)
			_exit(127);
		execvp(o->argv[0], o->argv);
		fprintf(stderr, "gor-lab: cannot run %s: %s\n", o->argv[0], strerror(errno));
		_exit(127);
	}
	struct rusage ru;
	pid_t w;
	while ((w = wait4(pid, &r->status, 0, &ru)) < 0 && errno == EINTR)
		;
	r->wall = now_ns() - t0;
	if (w != pid) {
		fprintf(stderr, "gor-lab: wait4: %s\n", strerror(errno));
		return -1;
	}
	r->cpu = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
		 ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
	return 0;
}

/* True if the run succeeded; otherwise says why on stderr. */
static bool runok(const struct opts *o, int p, const struct run *r)
{
	if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
		return true;
	if (WIFEXITED(r->status))
		fprintf(stderr, "gor-lab: %s at MAXPROCS=%d exited with status %d\n", o->argv[0], p,
			WEXITSTATUS(r->status));
	else if (WIFSIGNALED(r->status))
		fprintf(stderr, "gor-lab: %s at MAXPROCS=%d was killed by signal %d (%s)\n", o->argv[0], p,
			WTERMSIG(r->status), strsignal(WTERMSIG(r->status)));
	return false;
}

/* The traced run: fills the trace columns of row. 0 or -1. */
static int traced(const struct opts *o, struct row *row)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/gor-lab-XXXXXX.json", dir && *dir ? dir : "/tmp");
	int fd = mkstemps(path, 5);
	if (fd < 0) {
		fprintf(stderr, "gor-lab: cannot create a trace file in %s: %s\n", dir && *dir ? dir : "/tmp",
			strerror(errno));
		return -1;
	}
	close(fd);
	struct run r;
	int rc = -1;
	if (runonce(o, row->p, path, &r) == 0 && runok(o, row->p, &r)) {
		struct gt_trace t;
		struct gt_stats s;
		char err[512];
		if (gt_load(&t, path, err, sizeof err) != 0) {
			fprintf(stderr, "gor-lab: the trace at MAXPROCS=%d: %s\n", row->p, err);
		} else {
			if (gt_stats(&t, &s) == 0) {
				row->traced = true;
				row->truncated = t.truncated;
				row->par = t.end > 0 ? (double)s.parsum / (double)t.end : 0.0;
				row->ctx = t.nslices;
				row->steals = t.nsteals;
				row->handoffs = t.nhandoffs;
				gt_stats_free(&s);
				rc = 0;
			} else {
				fprintf(stderr, "gor-lab: out of memory reading the trace\n");
			}
			gt_free(&t);
		}
	}
	unlink(path);
	return rc;
}

static void fmtms(char *buf, size_t n, int64_t ns)
{
	snprintf(buf, n, "%.1f ms", (double)ns / 1e6);
}

static void printrow(const struct row *row, const struct row *base)
{
	char wall[32], cpu[32], speed[32], par[32];
	fmtms(wall, sizeof wall, row->best.wall);
	fmtms(cpu, sizeof cpu, row->best.cpu);
	snprintf(speed, sizeof speed, "%.2fx", (double)base->best.wall / (double)row->best.wall);
	if (row->traced) {
		snprintf(par, sizeof par, "%.2f%s", row->par, row->truncated ? "*" : "");
		printf("%5d %11s %11s %8s %12s %8zu %7zu %9zu\n", row->p, wall, cpu, speed, par, row->ctx,
		       row->steals, row->handoffs);
	} else {
		printf("%5d %11s %11s %8s %12s %8s %7s %9s\n", row->p, wall, cpu, speed, "-", "-", "-", "-");
	}
	fflush(stdout);
}

static int sweep(const struct opts *o)
{
	int base = 0;
	for (int i = 0; i < o->nprocs; i++)
		if (o->procs[i] == 1) {
			base = i;
			break;
		}
	/* the baseline runs first, so that every row can print its speedup */
	int order[MAXVALUES], k = 0;
	order[k++] = base;
	for (int i = 0; i < o->nprocs; i++)
		if (i != base)
			order[k++] = i;

	printf("gor-lab sweep:");
	for (char **a = o->argv; *a; a++)
		printf(" %s", *a);
	printf("\n%d CPUs; wall and CPU: the fastest of %d untraced run%s; speedup against MAXPROCS=%d;\n"
	       "parallelism (average goroutines running at once), ctx, steals, hand-offs: %s\n",
	       ncpu(), o->repeat, o->repeat == 1 ? "" : "s", o->procs[base],
	       o->trace ? "one traced run" : "not traced (--no-trace)");
	printf("%5s %11s %11s %8s %12s %8s %7s %9s\n", "P", "wall", "CPU", "speedup", "parallelism", "ctx",
	       "steals", "hand-offs");
	struct row rows[MAXVALUES];
	bool failed = false, truncated = false;
	for (int i = 0; i < o->nprocs; i++) {
		struct row *row = &rows[order[i]];
		memset(row, 0, sizeof *row);
		row->p = o->procs[order[i]];
		for (int j = 0; j < o->repeat; j++) {
			struct run r;
			if (runonce(o, row->p, NULL, &r) != 0 || !runok(o, row->p, &r))
				return 1;
			if (j == 0 || r.wall < row->best.wall)
				row->best = r;
		}
		if (o->trace && traced(o, row) != 0)
			failed = true;
		truncated |= row->truncated;
		printrow(row, &rows[base]);
	}
	if (truncated)
		printf("* the trace reached GOR_TRACE_LIMIT: figures for the recorded part only\n");
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	enum { OPT_NOTRACE = 256 };
	static const struct option longopts[] = {
		{"no-trace", no_argument, NULL, OPT_NOTRACE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "sweep") != 0) {
		usage(stderr);
		return 2;
	}
	struct opts o = {.repeat = 1, .trace = true};
	defaultprocs(&o, ncpu());
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "+p:r:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parseprocs(&o, optarg) != 0) {
				fprintf(stderr, "gor-lab: -p wants numbers from 1 to %d separated by commas, "
						"at most %d of them\n", MAXPROCS_LIMIT, MAXVALUES);
				return 2;
			}
			break;
		case 'r': {
			char *end;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno || *optarg == '\0' || *end != '\0' || v < 1 || v > 1000) {
				fprintf(stderr, "gor-lab: -r wants a number from 1 to 1000\n");
				return 2;
			}
			o.repeat = (int)v;
			break;
		}
		case 'v':
			o.verbose = true;
			break;
		case OPT_NOTRACE:
			o.trace = false;
			break;
		default: /* -h, or a usage error */
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	/* getopt stops at "--" and consumes it; the program must follow */
	if (optind >= argc || strcmp(argv[optind - 1], "--") != 0) {
		fprintf(stderr, "gor-lab: the program goes after --\n");
		usage(stderr);
		return 2;
	}
	o.argv = argv + optind;
	return sweep(&o);
}
