/*
 * model.c - loads a gor trace (Chrome trace JSON, parsed with jansson)
 * into struct gt_trace, and derives the figures the outputs print
 * (gt_stats): per-P busy time, the parallelism histogram, blocked time by
 * wait reason, time spent runnable.
 *
 * Loading is tolerant: events it does not know are skipped, a missing
 * otherData is fine (the end is then the last event), and malformed
 * events (no args.g on a slice, say) are skipped rather than fatal. Only
 * a file that is not JSON, or has no traceEvents array, is an error.
 *
 * Definitions, also given in docs/tracing.md:
 *  - parallelism: at each instant, the number of P tracks with a slice
 *    running; the histogram is the share of [0, end) spent at each count;
 *  - blocked time: from the end of a slice that ended with "block" to the
 *    goroutine's next wake-up (or next run, if no wake-up was recorded,
 *    or the end of the trace), charged to the slice's wait reason;
 *  - runnable time: from a goroutine's creation, a wake-up, or the end of
 *    a slice that yielded or was preempted, to its next run.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gortrace.h"

const char *const gt_endnames[GT_NEND] = {
	"yield", "block", "exit", "preempt", "syscall", "resize", "running", "unknown",
};
const char *const gt_srcnames[GT_NSRC] = {"goroutine", "timer", "netpoll", "scheduler"};

static bool grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 256;
	void *p = realloc(*arr, ncap * elem);
	if (p == NULL)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

/* Loader state: capacities beside the model's arrays. */
struct loader {
	struct gt_trace *t;
	size_t capslices, capgs, capwakes, capsteals, capprocs, capreasons, capcreates;
	uint64_t *sliceg; /* goroutine id of each slice until gs is built */
	size_t capsliceg;
	char **slicename;
	size_t capslicename;
	bool oom;
};

static int64_t usec(const json_t *v)
{
	return json_is_number(v) ? (int64_t)llround(json_number_value(v) * 1000.0) : -1;
}

static long long intarg(const json_t *args, const char *key, long long dflt)
{
	const json_t *v = json_object_get(args, key);
	return json_is_number(v) ? (long long)llround(json_number_value(v)) : dflt;
}

static const char *strarg(const json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

static int lookup(const char *const *names, int n, const char *s, int dflt)
{
	for (int i = 0; s && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return dflt;
}

static int reasonindex(struct loader *l, const char *r)
{
	struct gt_trace *t = l->t;
	if (r == NULL)
		return -1;
	for (size_t i = 0; i < t->nreasons; i++)
		if (strcmp(t->reasons[i], r) == 0)
			return (int)i;
	char *copy = strdup(r);
	if (copy == NULL || !grow((void **)&t->reasons, &l->capreasons, t->nreasons, sizeof *t->reasons)) {
		free(copy);
		l->oom = true;
		return -1;
	}
	t->reasons[t->nreasons++] = copy;
	return (int)(t->nreasons - 1);
}

static void addslice(struct loader *l, const json_t *ev, int64_t ts)
{
	struct gt_trace *t = l->t;
	const json_t *args = json_object_get(ev, "args");
	long long g = intarg(args, "g", -1);
	int64_t dur = usec(json_object_get(ev, "dur"));
	long long p = intarg(ev, "tid", -1);
	if (g <= 0 || dur < 0 || p < 0 || p > 4096)
		return;
	if (!grow((void **)&t->slices, &l->capslices, t->nslices, sizeof *t->slices) ||
	    !grow((void **)&l->sliceg, &l->capsliceg, t->nslices, sizeof *l->sliceg) ||
	    !grow((void **)&l->slicename, &l->capslicename, t->nslices, sizeof *l->slicename)) {
		l->oom = true;
		return;
	}
	int end = lookup(gt_endnames, GT_NEND, strarg(args, "end"), GT_UNKNOWN);
	t->slices[t->nslices] = (struct gt_slice){
		.t0 = ts, .t1 = ts + dur, .p = (int)p, .m = intarg(args, "m", -1), .g = -1,
		.end = end, .reason = end == GT_BLOCK ? reasonindex(l, strarg(args, "reason")) : -1,
	};
	l->sliceg[t->nslices] = (uint64_t)g;
	l->slicename[t->nslices] = (char *)json_string_value(json_object_get(ev, "name"));
	t->nslices++;
	if ((int)p + 1 > t->nlanes)
		t->nlanes = (int)p + 1;
}

/* Appends to the model's array arr (count n; its capacity cap is in
 * the loader), or marks the load out of memory: the new element or NULL. */
#define APPEND(l, arr, n, cap)                                                        \
	(grow((void **)&(l)->t->arr, &(l)->cap, (l)->t->n, sizeof *(l)->t->arr)       \
		 ? &(l)->t->arr[(l)->t->n++]                                           \
		 : ((l)->oom = true, NULL))

static void addinstant(struct loader *l, const json_t *ev, const char *name, int64_t ts)
{
	struct gt_trace *t = l->t;
	const json_t *args = json_object_get(ev, "args");
	int p = (int)intarg(ev, "tid", -1);
	const struct { const char *name; size_t *count; } counted[] = {
		{"timer", &t->ntimers}, {"handoff", &t->nhandoffs}, {"syscall", &t->nsyscalls},
		{"sysexit", &t->nsysexits}, {"preempt", &t->npreempts}, {"netpoll", &t->nnetpolls},
	};
	if (strcmp(name, "wake") == 0) {
		struct gt_wake *w = APPEND(l, wakes, nwakes, capwakes);
		if (w)
			*w = (struct gt_wake){
				.t = ts, .g = -1, .goid = (uint64_t)intarg(args, "g", 0),
				.by = (uint64_t)intarg(args, "by", 0), .p = p,
				.src = lookup(gt_srcnames, GT_NSRC, strarg(args, "src"), GT_SRC_SCHEDULER),
			};
	} else if (strcmp(name, "steal") == 0) {
		struct gt_steal *st = APPEND(l, steals, nsteals, capsteals);
		if (st)
			*st = (struct gt_steal){ts, p, (int)intarg(args, "victim", -1), (int)intarg(args, "n", 1)};
	} else if (strcmp(name, "create") == 0) {
		struct gt_create *c = APPEND(l, creates, ncreates, capcreates);
		if (c)
			*c = (struct gt_create){ts, (uint64_t)intarg(args, "g", 0), (uint64_t)intarg(args, "parent", 0)};
	} else if (strcmp(name, "maxprocs") == 0) {
		struct gt_procs *pr = APPEND(l, procs, nprocs, capprocs);
		if (pr)
			*pr = (struct gt_procs){ts, (int)intarg(args, "old", 0), (int)intarg(args, "new", 0)};
	} else {
		for (size_t i = 0; i < sizeof counted / sizeof *counted; i++)
			if (strcmp(name, counted[i].name) == 0)
				(*counted[i].count)++;
	}
}

static int cmpslice(const void *a, const void *b)
{
	const struct gt_slice *x = a, *y = b;
	if (x->t0 != y->t0)
		return x->t0 < y->t0 ? -1 : 1;
	return x->p < y->p ? -1 : x->p > y->p;
}

static int cmpwake(const void *a, const void *b)
{
	const struct gt_wake *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->goid < y->goid ? -1 : x->goid > y->goid;
}

static void makelabel(char *buf, size_t i)
{
	if (i < 26) {
		buf[0] = (char)('A' + i);
		buf[1] = '\0';
	} else if (i < 52) {
		buf[0] = (char)('a' + i - 26);
		buf[1] = '\0';
	} else {
		i -= 52;
		buf[0] = (char)('A' + (i / 26) % 26);
		buf[1] = (char)('A' + i % 26);
		buf[2] = '\0';
	}
}

/* The index of id in the sorted, distinct ids, or -1. */
static int findg(const uint64_t *ids, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && ids[lo] == id ? (int)lo : -1;
}

static int cmpu64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Builds gs (in order of first run) and the slices' g and nth. The slices
 * are sorted by t0 first; the names come from the slices. */
static int buildgs(struct loader *l)
{
	struct gt_trace *t = l->t;
	size_t n = t->nslices;
	/* sort slices together with their ids and names: sort an index */
	size_t *idx = malloc((n ? n : 1) * sizeof *idx);
	uint64_t *gid = malloc((n ? n : 1) * sizeof *gid);
	char **gname = malloc((n ? n : 1) * sizeof *gname);
	uint64_t *ids = malloc((n ? n : 1) * sizeof *ids);
	int *order = malloc((n ? n : 1) * sizeof *order);
	int rc = -1;
	if (!idx || !gid || !gname || !ids || !order)
		goto out;
	for (size_t i = 0; i < n; i++)
		t->slices[i].g = (int)i; /* remember the original index */
	qsort(t->slices, n, sizeof *t->slices, cmpslice);
	for (size_t i = 0; i < n; i++) {
		idx[i] = (size_t)t->slices[i].g;
		gid[i] = l->sliceg[idx[i]];
		gname[i] = l->slicename[idx[i]];
		ids[i] = gid[i];
	}
	qsort(ids, n, sizeof *ids, cmpu64);
	size_t nids = 0;
	for (size_t i = 0; i < n; i++)
		if (nids == 0 || ids[nids - 1] != ids[i])
			ids[nids++] = ids[i];
	for (size_t i = 0; i < nids; i++)
		order[i] = -1;
	t->gs = calloc(nids ? nids : 1, sizeof *t->gs);
	if (t->gs == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int k = findg(ids, nids, gid[i]);
		if (order[k] < 0) {
			order[k] = (int)t->ngs;
			struct gt_g *g = &t->gs[t->ngs];
			g->id = gid[i];
			g->created = -1;
			makelabel(g->label, t->ngs);
			char dflt[32];
			snprintf(dflt, sizeof dflt, "g%llu", (unsigned long long)g->id);
			if (gname[i] && strcmp(gname[i], dflt) != 0 && (g->name = strdup(gname[i])) == NULL)
				goto out;
			t->ngs++;
		}
		struct gt_slice *s = &t->slices[i];
		struct gt_g *g = &t->gs[order[k]];
		s->g = order[k];
		s->nth = ++g->nslices;
		g->run += s->t1 - s->t0;
	}
	for (size_t i = 0; i < t->nwakes; i++) {
		int k = findg(ids, nids, t->wakes[i].goid);
		t->wakes[i].g = k >= 0 ? order[k] : -1;
	}
	for (size_t i = 0; i < t->ncreates; i++) {
		int k = findg(ids, nids, t->creates[i].goid);
		if (k >= 0) {
			t->gs[order[k]].created = t->creates[i].t;
			t->gs[order[k]].parent = t->creates[i].parent;
		}
	}
	qsort(t->wakes, t->nwakes, sizeof *t->wakes, cmpwake);
	rc = 0;
out:
	free(idx);
	free(gid);
	free(gname);
	free(ids);
	free(order);
	return rc;
}

int gt_load(struct gt_trace *t, const char *path, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
		return -1;
	}
	const json_t *events = json_object_get(root, "traceEvents");
	if (!json_is_array(events)) {
		snprintf(err, errlen, "%s: not a trace (no traceEvents array)", path);
		json_decref(root);
		return -1;
	}
	struct loader l = {.t = t};
	int64_t last = 0;
	for (size_t i = 0; i < json_array_size(events) && !l.oom; i++) {
		const json_t *ev = json_array_get(events, i);
		const char *ph = json_string_value(json_object_get(ev, "ph"));
		const char *name = json_string_value(json_object_get(ev, "name"));
		int64_t ts = usec(json_object_get(ev, "ts"));
		if (ph == NULL || name == NULL || ts < 0 || intarg(ev, "pid", -1) != 1)
			continue;
		if (strcmp(ph, "X") == 0) {
			addslice(&l, ev, ts);
			if (t->nslices && t->slices[t->nslices - 1].t1 > last)
				last = t->slices[t->nslices - 1].t1;
		} else if (strcmp(ph, "i") == 0 || strcmp(ph, "I") == 0) {
			addinstant(&l, ev, name, ts);
			if (ts > last)
				last = ts;
		}
	}
	const json_t *other = json_object_get(root, "otherData");
	int64_t end = usec(json_object_get(other, "end_us"));
	t->end = end > last ? end : last;
	t->truncated = json_is_true(json_object_get(other, "truncated"));
	t->maxprocs = (int)intarg(other, "maxprocs", 0);
	if (t->nprocs && t->procs[0].old == 0)
		t->maxprocs = t->procs[0].new_;
	t->maxprocs_max = t->maxprocs;
	for (size_t i = 0; i < t->nprocs; i++)
		if (t->procs[i].new_ > t->maxprocs_max)
			t->maxprocs_max = t->procs[i].new_;
	if (t->maxprocs == 0)
		t->maxprocs = t->maxprocs_max = t->nlanes;
	if (t->maxprocs_max > t->nlanes)
		t->nlanes = t->maxprocs_max;
	int rc = l.oom ? -1 : buildgs(&l);
	if (rc != 0)
		snprintf(err, errlen, "%s: out of memory", path);
	free(l.sliceg);
	free(l.slicename);
	json_decref(root); /* the slice names were copied by buildgs */
	if (rc != 0)
		gt_free(t);
	return rc;
}

void gt_free(struct gt_trace *t)
{
	for (size_t i = 0; i < t->ngs; i++)
		free(t->gs[i].name);
	for (size_t i = 0; i < t->nreasons; i++)
		free(t->reasons[i]);
	free(t->gs);
	free(t->reasons);
	free(t->slices);
	free(t->wakes);
	free(t->steals);
	free(t->procs);
	free(t->creates);
	memset(t, 0, sizeof *t);
}

/* ---- derived figures ------------------------------------------------------ */

struct edge {
	int64_t t;
	int d; /* -1 an end, +1 a start: ends sort first */
};

static int cmpedge(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->d - y->d;
}

static int parallelism(const struct gt_trace *t, struct gt_stats *s)
{
	size_t n = 2 * t->nslices;
	struct edge *e = malloc((n ? n : 1) * sizeof *e);
	int top = t->nlanes > t->maxprocs_max ? t->nlanes : t->maxprocs_max;
	s->par = calloc((size_t)top + 2, sizeof *s->par);
	if (e == NULL || s->par == NULL) {
		free(e);
		return -1;
	}
	for (size_t i = 0; i < t->nslices; i++) {
		e[2 * i] = (struct edge){t->slices[i].t0, 1};
		e[2 * i + 1] = (struct edge){t->slices[i].t1, -1};
	}
	qsort(e, n, sizeof *e, cmpedge);
	int64_t prev = 0;
	int level = 0;
	for (size_t i = 0; i <= n; i++) {
		int64_t now = i < n ? e[i].t : t->end;
		if (now > t->end)
			now = t->end;
		if (now > prev) {
			int k = level < 0 ? 0 : level > top + 1 ? top + 1 : level;
			s->par[k] += now - prev;
			s->parsum += (now - prev) * k;
			prev = now;
		}
		if (i < n)
			level += e[i].d;
	}
	s->maxpar = t->maxprocs_max;
	for (int k = 0; k <= top + 1; k++)
		if (s->par[k] > 0 && k > s->maxpar)
			s->maxpar = k;
	free(e);
	return 0;
}

static void addblocked(struct gt_stats *s, const char *reason, int64_t ns)
{
	for (size_t i = 0; i < s->nblocked; i++) {
		if (strcmp(s->blocked[i].reason, reason) == 0) {
			s->blocked[i].ns += ns;
			s->blocked[i].count++;
			return;
		}
	}
	s->blocked[s->nblocked++] = (struct gt_blocked){reason, ns, 1};
}

static int cmpblocked(const void *a, const void *b)
{
	const struct gt_blocked *x = a, *y = b;
	if (x->ns != y->ns)
		return x->ns > y->ns ? -1 : 1;
	return strcmp(x->reason, y->reason);
}

static void addrunnable(struct gt_stats *s, int64_t ns)
{
	s->runnable += ns;
	s->nrunnable++;
	if (ns > s->latmax)
		s->latmax = ns;
}

/* Indices 0..n-1 grouped by key (a goroutine index, or -1: left out),
 * keeping their order within a group: a counting sort. first[g] is where
 * group g starts in the result, first[ngs] its end. */
static size_t *groupby(const int *key, size_t n, size_t ngs, size_t **firstp)
{
	size_t *first = calloc(ngs + 2, sizeof *first);
	size_t *out = malloc((n ? n : 1) * sizeof *out);
	if (first == NULL || out == NULL) {
		free(first);
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (key[i] >= 0)
			first[key[i] + 1]++;
	for (size_t g = 0; g < ngs; g++)
		first[g + 1] += first[g];
	size_t *fill = calloc(ngs + 1, sizeof *fill);
	if (fill == NULL) {
		free(first);
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (key[i] >= 0)
			out[first[key[i]] + fill[key[i]]++] = i;
	free(fill);
	*firstp = first;
	return out;
}

/* Walks each goroutine's runs and wake-ups in time order. */
static int waits(const struct gt_trace *t, struct gt_stats *s)
{
	int rc = -1;
	size_t n = t->nslices > t->nwakes ? t->nslices : t->nwakes;
	int *key = malloc((n ? n : 1) * sizeof *key);
	size_t *sfirst = NULL, *wfirst = NULL, *sl = NULL, *wk = NULL;
	s->blocked = calloc(t->nreasons + 1, sizeof *s->blocked);
	if (key == NULL || s->blocked == NULL)
		goto out;
	for (size_t i = 0; i < t->nslices; i++)
		key[i] = t->slices[i].g;
	if ((sl = groupby(key, t->nslices, t->ngs, &sfirst)) == NULL)
		goto out;
	for (size_t i = 0; i < t->nwakes; i++)
		key[i] = t->wakes[i].g;
	if ((wk = groupby(key, t->nwakes, t->ngs, &wfirst)) == NULL)
		goto out;
	for (size_t g = 0; g < t->ngs; g++) {
		size_t w = wfirst[g];
		if (t->gs[g].created >= 0 && sfirst[g] < sfirst[g + 1])
			addrunnable(s, t->slices[sl[sfirst[g]]].t0 - t->gs[g].created);
		for (size_t i = sfirst[g]; i < sfirst[g + 1]; i++) {
			const struct gt_slice *prev = &t->slices[sl[i]];
			bool last = i + 1 == sfirst[g + 1];
			int64_t from = prev->t1, until = last ? t->end : t->slices[sl[i + 1]].t0;
			while (w < wfirst[g + 1] && t->wakes[wk[w]].t < from)
				w++;
			bool woken = w < wfirst[g + 1] && t->wakes[wk[w]].t <= until;
			if (prev->end == GT_BLOCK) {
				int64_t b = woken ? t->wakes[wk[w]].t : until;
				addblocked(s, prev->reason >= 0 ? t->reasons[prev->reason] : "?", b - from);
				if (woken && !last)
					addrunnable(s, until - b);
			} else if ((prev->end == GT_YIELD || prev->end == GT_PREEMPT) && !last) {
				addrunnable(s, until - from);
			}
		}
	}
	qsort(s->blocked, s->nblocked, sizeof *s->blocked, cmpblocked);
	rc = 0;
out:
	free(key);
	free(sfirst);
	free(wfirst);
	free(sl);
	free(wk);
	return rc;
}

int gt_stats(const struct gt_trace *t, struct gt_stats *s)
{
	memset(s, 0, sizeof *s);
	s->busy = calloc((size_t)t->nlanes + 1, sizeof *s->busy);
	s->nslices = calloc((size_t)t->nlanes + 1, sizeof *s->nslices);
	if (s->busy == NULL || s->nslices == NULL)
		goto fail;
	for (size_t i = 0; i < t->nslices; i++) {
		const struct gt_slice *sl = &t->slices[i];
		if (sl->p < t->nlanes) {
			s->busy[sl->p] += sl->t1 - sl->t0;
			s->nslices[sl->p]++;
		}
	}
	if (parallelism(t, s) != 0 || waits(t, s) != 0)
		goto fail;
	for (size_t i = 0; i < t->nsteals; i++)
		s->stolen += t->steals[i].n;
	for (size_t i = 0; i < t->nwakes; i++)
		s->wakesby[t->wakes[i].src]++;
	return 0;
fail:
	gt_stats_free(s);
	return -1;
}

void gt_stats_free(struct gt_stats *s)
{
	free(s->busy);
	free(s->nslices);
	free(s->par);
	free(s->blocked);
	memset(s, 0, sizeof *s);
}

void gt_fmt_ms(char *buf, size_t n, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	snprintf(buf, n, "%lld.%03lld ms", (long long)(ns / 1000000), (long long)(ns / 1000 % 1000));
}

void gt_fmt_pct(char *buf, size_t n, int64_t part, int64_t whole)
{
	if (whole <= 0) {
		snprintf(buf, n, "-");
		return;
	}
	/* tenths of a percent, rounded; 128 bits: part may be ~1e15 */
	long long tenths = (long long)(((__int128)part * 1000 + whole / 2) / whole);
	snprintf(buf, n, "%lld.%lld%%", tenths / 10, tenths % 10);
}
