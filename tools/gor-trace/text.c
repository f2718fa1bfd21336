/*
 * text.c - gor-trace's text output: an ASCII timeline and a summary.
 *
 * The timeline maps [0, end) of the trace onto `width` columns, each
 * covering end/width of time.
 *
 *   P0: [A1=====]~[B1]----~ctx~~~[A2===]
 *   A:  ########+.........+++######
 *
 * A P lane shows what ran there: a run of columns that belong to one
 * slice is drawn [A1===] (goroutine A's first run; cut to [A] or A when
 * narrow), '-' is a column in which the P ran nothing, '~' one in which
 * it switched between goroutines (several slices fall in it), and a long
 * stretch of those reads ~ctx~~~. A goroutine lane shows its state per
 * column: '#' it ran at some time in the column, '+' it was runnable
 * (new, woken, or yielded, and waiting for a P), '.' blocked (parked, or
 * in a system call), ' ' not made yet (or made before the trace: main)
 * or exited. Letters are given in order of first run; the legend under
 * the lanes names them.
 *
 * Everything is computed in integers (see gortrace.h), so that the output
 * is the same on every machine.
 */
#include <stdlib.h>
#include <string.h>

#include "gortrace.h"

enum { COL_IDLE = -1, COL_MULTI = -2 };

static int64_t colstart(const struct gt_trace *t, int width, int c)
{
	return (int64_t)((__int128)t->end * c / width);
}

static int colof(const struct gt_trace *t, int width, int64_t x)
{
	if (t->end <= 0 || x <= 0)
		return 0;
	int64_t c = (int64_t)((__int128)x * width / t->end);
	return c >= width ? width - 1 : (int)c;
}

static bool overlaps(const struct gt_slice *s, int64_t c0, int64_t c1)
{
	if (s->t0 == s->t1)
		return s->t0 >= c0 && s->t0 < c1;
	return s->t0 < c1 && s->t1 > c0;
}

/* Which slice (index), or none, or several, each column of P p holds. */
static void pcolumns(const struct gt_trace *t, int p, int width, long *col)
{
	size_t j = 0;
	for (int c = 0; c < width; c++) {
		int64_t c0 = colstart(t, width, c), c1 = colstart(t, width, c + 1);
		if (c == width - 1)
			c1 = t->end + 1;
		/* slices of P p that ended before this column never matter again */
		while (j < t->nslices && (t->slices[j].p != p || (t->slices[j].t1 <= c0 && !overlaps(&t->slices[j], c0, c1))))
			j++;
		col[c] = COL_IDLE;
		for (size_t k = j; k < t->nslices && t->slices[k].t0 < c1; k++) {
			if (t->slices[k].p != p || !overlaps(&t->slices[k], c0, c1))
				continue;
			if (col[c] != COL_IDLE && col[c] != (long)k) {
				col[c] = COL_MULTI;
				break;
			}
			col[c] = (long)k;
		}
	}
}

static void putrun(char *line, int at, int k, const char *label, char fill)
{
	size_t len = strlen(label);
	if ((size_t)k >= len) {
		memcpy(line + at, label, len - 1);
		memset(line + at + len - 1, fill, (size_t)k - len);
		line[at + k - 1] = ']';
	}
}

static void drawslice(const struct gt_trace *t, const struct gt_slice *s, char *line, int at, int k)
{
	const struct gt_g *g = &t->gs[s->g];
	char full[32], shortl[8];
	snprintf(full, sizeof full, "[%s%d]", g->label, s->nth);
	snprintf(shortl, sizeof shortl, "[%s]", g->label);
	if ((size_t)k >= strlen(full))
		putrun(line, at, k, full, '=');
	else if ((size_t)k >= strlen(shortl))
		putrun(line, at, k, shortl, '=');
	else
		for (int i = 0; i < k; i++)
			line[at + i] = g->label[i < (int)strlen(g->label) ? i : 0];
}

static void plane(const struct gt_trace *t, int p, int width, long *col, char *line)
{
	pcolumns(t, p, width, col);
	for (int i = 0; i < width;) {
		int k = 1;
		while (i + k < width && col[i + k] == col[i])
			k++;
		if (col[i] == COL_IDLE) {
			memset(line + i, '-', (size_t)k);
		} else if (col[i] == COL_MULTI) {
			memset(line + i, '~', (size_t)k);
			if (k >= 5)
				memcpy(line + i + 1, "ctx", 3);
		} else {
			drawslice(t, &t->slices[col[i]], line, i, k);
		}
		i += k;
	}
	line[width] = '\0';
}

static int rank(char c)
{
	return c == '#' ? 3 : c == '+' ? 2 : c == '.' ? 1 : 0;
}

static void mark(const struct gt_trace *t, int width, char *line, int64_t a, int64_t b, char c)
{
	if (b < a || (b == a && c != '#'))
		return;
	int c0 = colof(t, width, a), c1 = b > a ? colof(t, width, b - 1) : c0;
	for (int i = c0; i <= c1; i++)
		if (rank(c) > rank(line[i]))
			line[i] = c;
}

/* One goroutine's lane: its runs, and between them blocked or runnable. */
static void glane(const struct gt_trace *t, int g, int width, char *line)
{
	memset(line, ' ', (size_t)width);
	line[width] = '\0';
	const struct gt_slice *prev = NULL;
	size_t w = 0;
	for (size_t i = 0; i <= t->nslices; i++) {
		const struct gt_slice *s = i < t->nslices ? &t->slices[i] : NULL;
		if (s && s->g != g)
			continue;
		if (prev == NULL && s && t->gs[g].created >= 0)
			mark(t, width, line, t->gs[g].created, s->t0, '+');
		if (prev && prev->end != GT_EXIT && prev->end != GT_RUNNING) {
			int64_t from = prev->t1, until = s ? s->t0 : t->end;
			if (prev->end == GT_BLOCK || prev->end == GT_SYSCALL || prev->end == GT_UNKNOWN) {
				while (w < t->nwakes && (t->wakes[w].g != g || t->wakes[w].t < from))
					w++;
				int64_t woke = w < t->nwakes && t->wakes[w].t <= until ? t->wakes[w].t : until;
				mark(t, width, line, from, woke, '.');
				mark(t, width, line, woke, until, '+');
			} else {
				mark(t, width, line, from, until, '+');
			}
		}
		if (s)
			mark(t, width, line, s->t0, s->t1, '#');
		prev = s;
	}
}

static void timeline(const struct gt_trace *t, const struct gt_textopts *o, FILE *out)
{
	int width = o->width;
	long *col = malloc((size_t)width * sizeof *col);
	char *line = malloc((size_t)width + 1);
	if (col == NULL || line == NULL) {
		fprintf(out, "timeline: out of memory\n");
		free(col);
		free(line);
		return;
	}
	char end[32], step[32];
	gt_fmt_ms(end, sizeof end, t->end);
	gt_fmt_ms(step, sizeof step, t->end / width);
	fprintf(out, "timeline: 0 to %s, one column = %s\n", end, step);
	int lw = 2;
	for (int p = t->nlanes - 1; p >= 10 && lw < 5; p /= 10)
		lw++;
	for (int p = 0; p < t->nlanes; p++) {
		plane(t, p, width, col, line);
		char name[16];
		snprintf(name, sizeof name, "P%d:", p);
		fprintf(out, "%-*s %s\n", lw + 1, name, line);
	}
	size_t shown = t->ngs < (size_t)o->maxg ? t->ngs : (size_t)o->maxg;
	for (size_t g = 0; g < shown; g++) {
		glane(t, (int)g, width, line);
		char name[16];
		snprintf(name, sizeof name, "%s:", t->gs[g].label);
		fprintf(out, "%-*s %s\n", lw + 1, name, line);
	}
	if (shown < t->ngs)
		fprintf(out, "(%zu more goroutines not shown: --max-goroutines)\n", t->ngs - shown);
	fprintf(out, "legend: [A1] goroutine A's 1st run  - P idle  ~ several runs in one column\n"
		     "        # running  + runnable  . blocked\n");
	for (size_t g = 0; g < shown; g++) {
		const struct gt_g *gg = &t->gs[g];
		char id[32], ran[32];
		snprintf(id, sizeof id, "g%llu", (unsigned long long)gg->id);
		gt_fmt_ms(ran, sizeof ran, gg->run);
		fprintf(out, "  %-3s %-8s %-20s ran %s in %d run%s\n", gg->label, id, gg->name ? gg->name : "",
			ran, gg->nslices, gg->nslices == 1 ? "" : "s");
	}
	free(col);
	free(line);
}

void gt_summary(const struct gt_trace *t, FILE *out)
{
	struct gt_stats s;
	if (gt_stats(t, &s) != 0) {
		fprintf(out, "summary: out of memory\n");
		return;
	}
	char a[32], b[32];
	gt_fmt_ms(a, sizeof a, t->end);
	fprintf(out, "summary: %s traced, MAXPROCS %d, %zu goroutines, %zu runs\n", a, t->maxprocs, t->ngs,
		t->nslices);
	if (t->truncated)
		fprintf(out, "  the trace was truncated (GOR_TRACE_LIMIT): it ends where recording stopped\n");
	for (size_t i = 0; i < t->nprocs; i++) {
		if (t->procs[i].old == 0)
			continue;
		gt_fmt_ms(a, sizeof a, t->procs[i].t);
		fprintf(out, "  MAXPROCS %d -> %d at %s\n", t->procs[i].old, t->procs[i].new_, a);
	}
	fprintf(out, "\nper-P utilisation (share of the trace running goroutines)\n");
	for (int p = 0; p < t->nlanes; p++) {
		gt_fmt_pct(a, sizeof a, s.busy[p], t->end);
		gt_fmt_ms(b, sizeof b, s.busy[p]);
		fprintf(out, "  P%-3d %6s  %14s busy  %ld run%s\n", p, a, b, s.nslices[p],
			s.nslices[p] == 1 ? "" : "s");
	}
	fprintf(out, "\nparallelism (share of the trace with N goroutines running at once)\n");
	for (int k = 0; k <= s.maxpar; k++) {
		gt_fmt_pct(a, sizeof a, s.par[k], t->end);
		int bar = t->end > 0 ? (int)(((__int128)s.par[k] * 40 + t->end / 2) / t->end) : 0;
		fprintf(out, "  %3d %6s |%-40.*s|\n", k, a, bar, "########################################");
	}
	long long milli = t->end > 0 ? (long long)(((__int128)s.parsum * 1000 + t->end / 2) / t->end) : 0;
	int most = 0;
	for (int k = 0; k <= s.maxpar; k++)
		if (s.par[k] > 0)
			most = k;
	fprintf(out, "  average %lld.%03lld running, at most %d at once\n", milli / 1000, milli % 1000, most);
	fprintf(out, "\ncontext switches  %zu\n", t->nslices);
	fprintf(out, "steals            %zu (%ld goroutine%s)\n", t->nsteals, s.stolen, s.stolen == 1 ? "" : "s");
	fprintf(out, "wake-ups          %zu: %ld by goroutines, %ld by timers, %ld by the netpoller, %ld by the scheduler\n",
		t->nwakes, s.wakesby[GT_SRC_GOROUTINE], s.wakesby[GT_SRC_TIMER], s.wakesby[GT_SRC_NETPOLL],
		s.wakesby[GT_SRC_SCHEDULER]);
	fprintf(out, "timers fired      %zu\n", t->ntimers);
	fprintf(out, "syscalls          %zu (hand-offs %zu)\n", t->nsyscalls, t->nhandoffs);
	fprintf(out, "preemptions       %zu\n", t->npreempts);
	fprintf(out, "netpoll wake-ups  %zu\n", t->nnetpolls);
	fprintf(out, "\nblocked time by reason\n");
	if (s.nblocked == 0)
		fprintf(out, "  (none)\n");
	for (size_t i = 0; i < s.nblocked; i++) {
		gt_fmt_ms(a, sizeof a, s.blocked[i].ns);
		fprintf(out, "  %-24s %14s  %ld time%s\n", s.blocked[i].reason, a, s.blocked[i].count,
			s.blocked[i].count == 1 ? "" : "s");
	}
	gt_fmt_ms(a, sizeof a, s.runnable);
	gt_fmt_ms(b, sizeof b, s.latmax);
	fprintf(out, "\nrunnable, waiting for a P: %s in %ld waits, longest %s\n", a, s.nrunnable, b);
	gt_stats_free(&s);
}

void gt_text(const struct gt_trace *t, const struct gt_textopts *o, FILE *out)
{
	if (o->timeline)
		timeline(t, o, out);
	if (o->timeline && o->summary)
		fputc('\n', out);
	if (o->summary)
		gt_summary(t, out);
}
