/*
 * gortrace.h - gor-trace's model of a scheduler trace, and the three
 * things it does with one: load it (model.c), print it as text (text.c:
 * ASCII timeline and summary) and write it as an HTML page (html.c).
 *
 * The input is what runtime/trace.c writes (Chrome trace JSON, format 1,
 * described in its top comment and docs/tracing.md): "X" slices on pid 1
 * (one track per P, args.g the goroutine), "wake", "steal", "timer",
 * "handoff", "syscall", "sysexit", "preempt", "netpoll" instants, and
 * "maxprocs" instants. Everything else is ignored, so a trace cut by hand
 * (tests/data/) loads too.
 *
 * Times in the model are integer nanoseconds since the trace started, so
 * that every figure printed is computed in integers and comes out the
 * same on every machine (the text output is compared byte for byte by
 * tests/check_trace.c).
 */
#ifndef GORTRACE_H
#define GORTRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* One run of a goroutine on a P. */
struct gt_slice {
	int64_t t0, t1;
	int p;
	long long m;
	int g;          /* index in gt_trace.gs */
	int nth;        /* 1 for the goroutine's first run, 2 for its second... */
	int end;        /* enum gt_end */
	int reason;     /* index in gt_trace.reasons when end is GT_BLOCK, else -1 */
};

enum gt_end { GT_YIELD, GT_BLOCK, GT_EXIT, GT_PREEMPT, GT_SYSCALL, GT_RESIZE, GT_RUNNING, GT_UNKNOWN, GT_NEND };
extern const char *const gt_endnames[GT_NEND];

struct gt_g {
	uint64_t id;
	char *name;       /* NULL: none */
	char label[4];    /* A..Z, a..z, then AA, AB... */
	int nslices;
	int64_t run;      /* ns running */
	int64_t created;  /* when it was made, -1: not in the trace (main) */
	uint64_t parent;  /* who made it, 0: unknown */
};

enum gt_src { GT_SRC_GOROUTINE, GT_SRC_TIMER, GT_SRC_NETPOLL, GT_SRC_SCHEDULER, GT_NSRC };
extern const char *const gt_srcnames[GT_NSRC];

struct gt_wake {
	int64_t t;
	int g;            /* index in gs, -1: a goroutine that never ran */
	uint64_t goid, by;
	int p;
	int src;          /* enum gt_src */
};

struct gt_steal {
	int64_t t;
	int p, victim, n;
};

struct gt_procs {
	int64_t t;
	int old, new_;
};

struct gt_create {
	int64_t t;
	uint64_t goid, parent;
};

struct gt_trace {
	int64_t end;              /* the trace's end; it starts at 0 */
	int nlanes;               /* P tracks: highest P + 1 */
	int maxprocs;             /* at the start */
	int maxprocs_max;
	bool truncated;
	struct gt_slice *slices;  /* sorted by t0, then P */
	size_t nslices;
	struct gt_g *gs;          /* in order of first run */
	size_t ngs;
	struct gt_wake *wakes;    /* sorted by t */
	size_t nwakes;
	struct gt_steal *steals;
	size_t nsteals;
	struct gt_procs *procs;
	size_t nprocs;
	struct gt_create *creates; /* goroutines made, in file order */
	size_t ncreates;
	char **reasons;           /* wait reasons seen, in order of first use */
	size_t nreasons;
	size_t ntimers, nhandoffs, nsyscalls, nsysexits, npreempts, nnetpolls;
};

/* Loads a trace file. 0, or -1 with a message in err. */
int gt_load(struct gt_trace *t, const char *path, char *err, size_t errlen);
void gt_free(struct gt_trace *t);

/* The text output: what to print and how wide. */
struct gt_textopts {
	int width;          /* timeline columns */
	int maxg;           /* goroutine lanes at most */
	bool timeline, summary;
};
void gt_text(const struct gt_trace *t, const struct gt_textopts *o, FILE *out);
void gt_summary(const struct gt_trace *t, FILE *out);

/* The HTML page (title: shown on the page). 0, or -1 on a write error. */
int gt_html(const struct gt_trace *t, const char *title, FILE *out);

/* Derived figures, shared by the text and the HTML. */
struct gt_blocked {
	const char *reason;
	int64_t ns;
	long count;
};
struct gt_stats {
	int64_t *busy;           /* per lane, ns running */
	long *nslices;           /* per lane */
	int64_t *par;            /* par[k]: ns with k goroutines running at once */
	int maxpar;              /* highest k with par[k] > 0, at least maxprocs_max */
	int64_t parsum;          /* integral of the number running, ns */
	struct gt_blocked *blocked; /* by reason, most time first */
	size_t nblocked;
	int64_t runnable;        /* ns goroutines waited for a P after being made or woken, or a yield */
	long nrunnable;
	int64_t latmax;          /* the longest such wait */
	long stolen;             /* goroutines taken by steals */
	long wakesby[GT_NSRC];
};
int gt_stats(const struct gt_trace *t, struct gt_stats *s);
void gt_stats_free(struct gt_stats *s);

/* "12.345 ms" from ns, in integers (truncated to the microsecond). */
void gt_fmt_ms(char *buf, size_t n, int64_t ns);
/* "87.5%" of part in whole, rounded to a tenth. */
void gt_fmt_pct(char *buf, size_t n, int64_t part, int64_t whole);

#endif /* GORTRACE_H */
