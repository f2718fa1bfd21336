/*
 * check_trace.c - the scheduler trace (GOR_TRACE, gor_trace_stop) and
 * gor-trace's reading of it.
 *
 * Live traces: a child process runs a workload with GOR_TRACE pointing at
 * a temporary file, with MAXPROCS 1 and 2, and ends by exit() (the trace
 * is written at exit, while other Ms may still run) or gor_trace_stop.
 * The test parses the file with jansson and checks what must hold of any
 * trace, whatever the timing: it is JSON in the Chrome format; slices on
 * one P never overlap; the number of goroutines running at once never
 * exceeds MAXPROCS; every slice says why it ended and a blocked one on
 * what; the goroutines' names appear; every wake-up names goroutines that
 * ran; every flow end has its start; the M tracks hold the same slices.
 * It never asserts on durations.
 *
 * gor-trace: its model and text output are linked in (the Makefile) and
 * compared with tests/data/small.txt for the fixed trace
 * tests/data/small.json, whose figures were checked by hand (see
 * docs/tracing.md). The HTML page is checked in Chromium by
 * tests/html_check.sh, run by .ci/run.
 */
#include "testutil.h"

#include <math.h>

#include <jansson.h>

#include "gortrace.h"

/* ---- workloads (in the child) ------------------------------------------ */

#define ROUNDS 200
#define SLEEPERS 3

static gor_chan *ping, *pong;
static gor_waitgroup wg;
static gor_mutex mu;
static long shared;

static void pinger(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		gor_send(ping, &i);
		gor_recv(pong, NULL);
	}
	gor_wg_done(&wg);
}

static void ponger(void *arg)
{
	(void)arg;
	int v;
	for (int i = 0; i < ROUNDS; i++) {
		gor_recv(ping, &v);
		gor_send(pong, &v);
	}
	gor_wg_done(&wg);
}

static void sleeper(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++)
		gor_sleep(GOR_MILLISECOND);
	gor_wg_done(&wg);
}

static void yielder(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		gor_mutex_lock(&mu);
		shared++;
		gor_mutex_unlock(&mu);
		gor_yield();
	}
	gor_wg_done(&wg);
}

static void go_named(const char *name, void (*fn)(void *))
{
	gor_attr a = {.name = name};
	TU_CHILD_CHECK(gor_go_attr(&a, fn, NULL) == 0, "gor_go_attr(%s): errno %d", name, errno);
}

static void workload(void)
{
	ping = gor_chan_make(sizeof(int), 0);
	pong = gor_chan_make(sizeof(int), 0);
	TU_CHILD_CHECK(ping && pong, "gor_chan_make");
	gor_wg_add(&wg, 4 + SLEEPERS);
	go_named("pinger", pinger);
	go_named("ponger", ponger);
	go_named("yielder-a", yielder);
	go_named("yielder-b", yielder);
	for (int i = 0; i < SLEEPERS; i++) {
		char name[16];
		snprintf(name, sizeof name, "sleeper-%d", i);
		go_named(name, sleeper);
	}
	gor_wg_wait(&wg);
	TU_CHILD_CHECK(shared == 200, "shared = %ld", shared);
}

/* Ends with exit(): the trace is written by the atexit handler. */
static int child_exit(void *arg)
{
	(void)arg;
	workload();
	exit(0);
}

/* Stops the trace, checks the file is complete on return, runs on. */
static int child_stop(void *arg)
{
	const char *path = arg;
	workload();
	gor_trace_stop();
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err);
	TU_CHILD_CHECK(root != NULL, "trace unreadable right after gor_trace_stop: %s", err.text);
	json_decref(root);
	gor_trace_stop(); /* a second call does nothing */
	gor_wg_add(&wg, 2);
	go_named("after-stop", yielder);
	go_named("after-stop", yielder);
	gor_wg_wait(&wg);
	exit(0);
}

static void spinner(void *arg)
{
	(void)arg;
	for (;;) {
		tu_spin_ns(10000);
		gor_yield();
	}
}

/* exit() while two goroutines keep both Ps busy. */
static int child_busy_exit(void *arg)
{
	(void)arg;
	go_named("spinner", spinner);
	go_named("spinner", spinner);
	gor_sleep(20 * GOR_MILLISECOND);
	exit(0);
}

/* MAXPROCS 1 -> 2 -> 1 while the workload runs. */
static int child_resize(void *arg)
{
	(void)arg;
	gor_maxprocs(1);
	gor_maxprocs(2);
	workload();
	gor_maxprocs(1);
	exit(0);
}

/* ---- reading a trace (in the test) ------------------------------------- */

/* Times in whole nanoseconds: the file has three decimals of a
 * microsecond, and sums of doubles would make touching slices overlap. */
struct tslice {
	long long ts, end;
	long long tid;
	long long g;
};

static int cmptslice(const void *a, const void *b)
{
	const struct tslice *x = a, *y = b;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

struct edge {
	long long t;
	int d;
};

static int cmpedge(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->d - y->d; /* an end before a start at the same time */
}

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_number(v), "event without a number \"%s\"", key);
	return json_number_value(v);
}

static bool hasg(const long long *gs, size_t n, long long g)
{
	for (size_t i = 0; i < n; i++)
		if (gs[i] == g)
			return true;
	return false;
}

struct expect {
	int maxprocs;              /* the most Ps at any time */
	const char *const *names;  /* that must appear, NULL-terminated */
	bool mayrun;               /* slices may still run at the end */
};

/* Every check that holds of any trace; returns the parsed root. */
static json_t *check_trace(const char *path, const struct expect *e)
{
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err);
	ck_assert_msg(root != NULL, "%s: not JSON: line %d: %s", path, err.line, err.text);
	const json_t *other = json_object_get(root, "otherData");
	ck_assert_str_eq(json_string_value(json_object_get(other, "producer")), "gor");
	ck_assert(json_is_false(json_object_get(other, "truncated")));
	double end = num(other, "end_us");
	const json_t *events = json_object_get(root, "traceEvents");
	ck_assert(json_is_array(events));
	size_t n = json_array_size(events), np = 0, nm = 0, nslices = 0;
	struct tslice *sl = calloc(n, sizeof *sl);
	long long *gs = calloc(n, sizeof *gs);
	long long *flows = calloc(n, sizeof *flows);
	size_t ngs = 0, nflows = 0, ncreates = 0;
	ck_assert(sl && gs && flows);
	for (size_t i = 0; i < n; i++) {
		const json_t *ev = json_array_get(events, i);
		const char *ph = json_string_value(json_object_get(ev, "ph"));
		ck_assert_ptr_nonnull(ph);
		ck_assert_ptr_nonnull(json_string_value(json_object_get(ev, "name")));
		if (strcmp(ph, "M") == 0)
			continue;
		double ts = num(ev, "ts");
		ck_assert_msg(ts >= 0 && ts <= end + 1e-6, "event at %f outside [0, %f]", ts, end);
		long long pid = (long long)num(ev, "pid");
		const json_t *args = json_object_get(ev, "args");
		if (strcmp(ph, "X") == 0) {
			double dur = num(ev, "dur");
			ck_assert_msg(dur >= 0 && ts + dur <= end + 1e-3, "slice [%f +%f] past the end %f", ts, dur, end);
			long long g = (long long)num(args, "g");
			ck_assert_int_gt(g, 0);
			if (pid == 2) {
				nm++;
				continue;
			}
			ck_assert_int_eq(pid, 1);
			np++;
			long long t0 = llround(ts * 1000);
			sl[nslices++] = (struct tslice){t0, t0 + llround(dur * 1000), (long long)num(ev, "tid"), g};
			if (!hasg(gs, ngs, g))
				gs[ngs++] = g;
			const char *why = json_string_value(json_object_get(args, "end"));
			ck_assert_ptr_nonnull(why);
			ck_assert_msg(strcmp(why, "unknown") != 0, "a slice of g%lld ended for no known reason", g);
			if (!e->mayrun && strcmp(why, "running") == 0)
				ck_assert_msg(ts + dur >= end - 1e-3, "g%lld 'running' before the end", g);
			if (strcmp(why, "block") == 0) {
				const char *r = json_string_value(json_object_get(args, "reason"));
				ck_assert_msg(r && *r, "a blocked slice of g%lld without a reason", g);
			}
		} else if (strcmp(ph, "s") == 0) {
			flows[nflows++] = (long long)num(ev, "id");
		} else if (strcmp(ph, "f") == 0) {
			long long id = (long long)num(ev, "id");
			ck_assert_msg(hasg(flows, nflows, id), "flow end %lld before (or without) its start", id);
		}
	}
	ck_assert_uint_eq(np, nm); /* the M tracks hold the same slices */
	ck_assert_msg(np > 0, "no slices in %s", path);
	/* no overlap on a P */
	qsort(sl, nslices, sizeof *sl, cmptslice);
	for (size_t i = 1; i < nslices; i++)
		if (sl[i].tid == sl[i - 1].tid)
			ck_assert_msg(sl[i].ts >= sl[i - 1].end,
				      "P%lld: g%lld [%lld, %lld] overlaps g%lld [%lld, %lld] (ns)", sl[i].tid,
				      sl[i - 1].g, sl[i - 1].ts, sl[i - 1].end, sl[i].g, sl[i].ts, sl[i].end);
	/* never more running than MAXPROCS */
	struct edge *ed = calloc(2 * nslices, sizeof *ed);
	ck_assert_ptr_nonnull(ed);
	for (size_t i = 0; i < nslices; i++) {
		ed[2 * i] = (struct edge){sl[i].ts, 1};
		ed[2 * i + 1] = (struct edge){sl[i].end, -1};
	}
	qsort(ed, 2 * nslices, sizeof *ed, cmpedge);
	int level = 0, most = 0;
	for (size_t i = 0; i < 2 * nslices; i++) {
		level += ed[i].d;
		if (level > most)
			most = level;
	}
	ck_assert_msg(most <= e->maxprocs, "%d goroutines ran at once with MAXPROCS %d", most, e->maxprocs);
	for (size_t i = 0; i < nslices; i++)
		ck_assert_msg(sl[i].tid >= 0 && sl[i].tid < e->maxprocs, "a slice on P%lld", sl[i].tid);
	/* wake-ups name goroutines that ran; a goroutine runs after it is
	 * made, and by a goroutine that ran (main, made before the trace,
	 * has no creation event) */
	for (size_t i = 0; i < n; i++) {
		const json_t *ev = json_array_get(events, i);
		const char *name = json_string_value(json_object_get(ev, "name"));
		if (strcmp(json_string_value(json_object_get(ev, "ph")), "i") != 0)
			continue;
		const json_t *args = json_object_get(ev, "args");
		if (strcmp(name, "wake") == 0) {
			long long g = (long long)num(args, "g"), by = (long long)num(args, "by");
			ck_assert_msg(hasg(gs, ngs, g), "a wake-up of g%lld, which never ran", g);
			ck_assert_msg(by == 0 || hasg(gs, ngs, by), "a wake-up by g%lld, which never ran", by);
		} else if (strcmp(name, "create") == 0) {
			long long g = (long long)num(args, "g"), parent = (long long)num(args, "parent");
			long long t = llround(num(ev, "ts") * 1000);
			ck_assert_msg(hasg(gs, ngs, parent), "g%lld made by g%lld, which never ran", g, parent);
			for (size_t k = 0; k < nslices; k++)
				ck_assert_msg(sl[k].g != g || sl[k].ts >= t, "g%lld ran at %lld ns, before it was made at %lld",
					      g, sl[k].ts, t);
			ncreates++;
		}
	}
	ck_assert_msg(ncreates > 0, "no goroutine creation in the trace");
	/* names */
	for (const char *const *name = e->names; name && *name; name++) {
		bool found = false;
		for (size_t i = 0; i < n && !found; i++) {
			const json_t *ev = json_array_get(events, i);
			found = strcmp(json_string_value(json_object_get(ev, "ph")), "X") == 0 &&
				strcmp(json_string_value(json_object_get(ev, "name")), *name) == 0;
		}
		ck_assert_msg(found, "no slice named %s", *name);
	}
	free(ed);
	free(sl);
	free(gs);
	free(flows);
	return root;
}

/* gor-trace reads it, and agrees about the parallelism. */
static void check_model(const char *path, int maxprocs)
{
	struct gt_trace t;
	char err[256];
	ck_assert_msg(gt_load(&t, path, err, sizeof err) == 0, "gt_load: %s", err);
	struct gt_stats s;
	ck_assert_int_eq(gt_stats(&t, &s), 0);
	for (int k = maxprocs + 1; k <= s.maxpar; k++)
		ck_assert_msg(s.par[k] == 0, "gor-trace: %d running at once with MAXPROCS %d", k, maxprocs);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	gt_text(&t, &(struct gt_textopts){.width = 60, .maxg = 8, .timeline = true, .summary = true}, f);
	ck_assert_int_eq(gt_html(&t, "t", f), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "P0: "));
	free(buf);
	gt_stats_free(&s);
	gt_free(&t);
}

static char tracepath[64];
static char envtrace[96];

static void tmppath(void)
{
	strcpy(tracepath, "/tmp/gor-trace-XXXXXX");
	int fd = mkstemp(tracepath);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(envtrace, sizeof envtrace, "GOR_TRACE=%s", tracepath);
}

static const char *const workload_names[] = {"pinger", "ponger", "yielder-a", "yielder-b", "sleeper-0", NULL};

/* Runs fn in a child tracing to tracepath with MAXPROCS procs and one
 * more variable (or NULL); it must exit 0. */
static void run_traced(tu_child_fn fn, int procs, const char *extra, struct tu_child *c)
{
	tmppath();
	char envprocs[32];
	snprintf(envprocs, sizeof envprocs, "GOR_MAXPROCS=%d", procs);
	const char *env[] = {envtrace, envprocs, extra, NULL};
	tu_child_run(c, fn, tracepath, env);
	TU_ASSERT_CHILD_EXIT(c, 0);
}

/* wake-ups by a goroutine and by a timer are in a pingpong-and-sleep trace */
static void check_wake_sources(const json_t *root)
{
	const json_t *events = json_object_get(root, "traceEvents");
	bool bygor = false, bytimer = false;
	for (size_t i = 0; i < json_array_size(events); i++) {
		const json_t *ev = json_array_get(events, i);
		if (strcmp(json_string_value(json_object_get(ev, "name")), "wake") != 0)
			continue;
		const char *src = json_string_value(json_object_get(json_object_get(ev, "args"), "src"));
		if (src && strcmp(src, "goroutine") == 0)
			bygor = true;
		if (src && strcmp(src, "timer") == 0)
			bytimer = true;
	}
	ck_assert_msg(bygor, "no wake-up by a goroutine");
	ck_assert_msg(bytimer, "no wake-up by a timer");
}

START_TEST(test_trace_at_exit)
{
	int procs = _i + 1;
	struct tu_child c;
	run_traced(child_exit, procs, NULL, &c);
	json_t *root = check_trace(tracepath, &(struct expect){procs, workload_names, false});
	ck_assert_int_eq((int)json_integer_value(json_object_get(json_object_get(root, "otherData"), "maxprocs")), procs);
	check_wake_sources(root);
	json_decref(root);
	check_model(tracepath, procs);
	unlink(tracepath);
	tu_child_free(&c);
}
END_TEST

START_TEST(test_trace_stop)
{
	int procs = _i + 1;
	struct tu_child c;
	run_traced(child_stop, procs, NULL, &c);
	json_t *root = check_trace(tracepath, &(struct expect){procs, workload_names, false});
	/* nothing after the stop: the goroutines started after it are absent */
	const json_t *events = json_object_get(root, "traceEvents");
	for (size_t i = 0; i < json_array_size(events); i++) {
		const char *name = json_string_value(json_object_get(json_array_get(events, i), "name"));
		ck_assert_msg(strcmp(name, "after-stop") != 0, "an event after gor_trace_stop");
	}
	json_decref(root);
	unlink(tracepath);
	tu_child_free(&c);
}
END_TEST

START_TEST(test_trace_exit_while_running)
{
	struct tu_child c;
	run_traced(child_busy_exit, 2, NULL, &c);
	static const char *const names[] = {"spinner", NULL};
	json_decref(check_trace(tracepath, &(struct expect){2, names, true}));
	check_model(tracepath, 2);
	unlink(tracepath);
	tu_child_free(&c);
}
END_TEST

START_TEST(test_trace_resize)
{
	struct tu_child c;
	run_traced(child_resize, 2, NULL, &c);
	json_t *root = check_trace(tracepath, &(struct expect){2, workload_names, false});
	const json_t *events = json_object_get(root, "traceEvents");
	char seq[64] = "";
	for (size_t i = 0; i < json_array_size(events); i++) {
		const json_t *ev = json_array_get(events, i);
		if (strcmp(json_string_value(json_object_get(ev, "name")), "maxprocs") != 0)
			continue;
		const json_t *args = json_object_get(ev, "args");
		char step[16];
		snprintf(step, sizeof step, "%d>%d ", (int)num(args, "old"), (int)num(args, "new"));
		strncat(seq, step, sizeof seq - strlen(seq) - 1);
	}
	ck_assert_str_eq(seq, "0>2 2>1 1>2 2>1 ");
	json_decref(root);
	unlink(tracepath);
	tu_child_free(&c);
}
END_TEST

START_TEST(test_trace_monotonic_clock)
{
	struct tu_child c;
	run_traced(child_exit, 2, "GOR_TRACE_CLOCK=monotonic", &c);
	json_t *root = check_trace(tracepath, &(struct expect){2, workload_names, false});
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(root, "otherData"), "clock")), "monotonic");
	json_decref(root);
	unlink(tracepath);
	tu_child_free(&c);
}
END_TEST

/* A long pingpong: far more than 1 MiB of events. */
static int child_flood(void *arg)
{
	(void)arg;
	ping = gor_chan_make(sizeof(int), 0);
	pong = gor_chan_make(sizeof(int), 0);
	TU_CHILD_CHECK(ping && pong, "gor_chan_make");
	gor_wg_add(&wg, 1);
	go_named("ponger", ponger);
	for (int r = 0; r < 100; r++) {
		for (int i = 0; i < ROUNDS; i++) {
			gor_send(ping, &i);
			gor_recv(pong, NULL);
		}
		gor_wg_add(&wg, 1);
		go_named("ponger", ponger);
	}
	exit(0);
}

/* Past GOR_TRACE_LIMIT the trace ends, says so, and is still valid. */
START_TEST(test_trace_limit)
{
	struct tu_child c;
	run_traced(child_flood, 2, "GOR_TRACE_LIMIT=1", &c);
	TU_ASSERT_STDERR_HAS(&c, "GOR_TRACE_LIMIT");
	json_error_t err;
	json_t *root = json_load_file(tracepath, 0, &err);
	ck_assert_msg(root != NULL, "truncated trace is not JSON: %s", err.text);
	ck_assert(json_is_true(json_object_get(json_object_get(root, "otherData"), "truncated")));
	json_decref(root);
	unlink(tracepath);
	tu_child_free(&c);
}
END_TEST

static int child_plain(void *arg)
{
	(void)arg;
	workload();
	gor_trace_stop(); /* without GOR_TRACE: nothing */
	exit(0);
}

START_TEST(test_trace_bad_path)
{
	struct tu_child c;
	const char *env[] = {"GOR_TRACE=/nonexistent/dir/trace.json", NULL};
	tu_child_run(&c, child_plain, NULL, env);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	TU_ASSERT_STDERR_HAS(&c, "cannot open the trace file");
	tu_child_free(&c);
}
END_TEST

START_TEST(test_trace_off)
{
	struct tu_child c;
	tu_child_run(&c, child_plain, NULL, NULL);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	ck_assert_uint_eq(c.len, 0); /* and says nothing */
	tu_child_free(&c);
}
END_TEST

/* ---- gor-trace on the fixed trace ---------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t cap = 0;
	*len = 0;
	for (;;) {
		if (*len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		size_t n = fread(buf + *len, 1, cap - *len - 1, f);
		*len += n;
		if (n == 0)
			break;
	}
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void load_small(struct gt_trace *t)
{
	char err[256];
	ck_assert_msg(gt_load(t, GOR_TESTDATA "/small.json", err, sizeof err) == 0, "%s", err);
}

START_TEST(test_gortrace_golden)
{
	struct gt_trace t;
	load_small(&t);
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	/* what `gor-trace -w 32 tests/data/small.json` prints */
	gt_text(&t, &(struct gt_textopts){.width = 32, .maxg = 24, .timeline = true, .summary = true}, f);
	fclose(f);
	size_t explen;
	char *exp = slurp(GOR_TESTDATA "/small.txt", &explen);
	if (strcmp(out, exp) != 0) {
		const char *a = out, *b = exp;
		int line = 1;
		while (*a && *a == *b) {
			line += *a == '\n';
			a++;
			b++;
		}
		ck_abort_msg("gor-trace output differs from tests/data/small.txt at line %d:\n--- got:\n%s\n--- want:\n%s",
			     line, out, exp);
	}
	free(out);
	free(exp);
	gt_free(&t);
}
END_TEST

START_TEST(test_gortrace_html)
{
	struct gt_trace t;
	load_small(&t);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	ck_assert_int_eq(gt_html(&t, "small.json", f), 0);
	fclose(f);
	/* self-contained: nothing loaded from anywhere (the SVG namespace
	 * URI is a name, not a download) */
	ck_assert_ptr_null(strstr(out, "src="));
	ck_assert_ptr_null(strstr(out, "href="));
	ck_assert_ptr_null(strstr(out, "url("));
	ck_assert_ptr_null(strstr(out, "@import"));
	ck_assert_ptr_null(strstr(out, "fetch("));
	ck_assert_ptr_null(strstr(out, "https:"));
	/* the name "sleeper <1>&" cannot break out of the data element */
	ck_assert_ptr_null(strstr(out, "sleeper <1>"));
	ck_assert_ptr_nonnull(strstr(out, "sleeper \\u003c1>&"));
	ck_assert_ptr_nonnull(strstr(out, "data-gor-ready"));
	free(out);
	gt_free(&t);
}
END_TEST

START_TEST(test_gortrace_bad_input)
{
	struct gt_trace t;
	char err[256];
	ck_assert_int_eq(gt_load(&t, "/nonexistent/trace.json", err, sizeof err), -1);
	char path[] = "/tmp/gor-bad-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	static const char *const bad[] = {
		"not json", "{\"traceEvents\": 3}", "[1,2,3]",
		"{\"traceEvents\":[{\"ph\":\"X\",\"pid\":1,\"tid\":0,\"ts\":\"x\",\"name\":\"a\"}]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ck_assert_int_eq(ftruncate(fd, 0), 0);
		ck_assert_int_eq(pwrite(fd, bad[i], strlen(bad[i]), 0), (ssize_t)strlen(bad[i]));
		int rc = gt_load(&t, path, err, sizeof err);
		if (i < 3) {
			ck_assert_msg(rc == -1, "loaded \"%s\"", bad[i]);
		} else {
			/* well-formed JSON with a malformed event: skipped */
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_eq(t.nslices, 0);
			FILE *null = fopen("/dev/null", "w");
			ck_assert_ptr_nonnull(null);
			gt_text(&t, &(struct gt_textopts){.width = 10, .maxg = 2, .timeline = true, .summary = true},
				null);
			fclose(null);
			gt_free(&t);
		}
	}
	close(fd);
	unlink(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tu_tcase(s, "trace");
	tcase_add_loop_test(tc, test_trace_at_exit, 0, 2);
	tcase_add_loop_test(tc, test_trace_stop, 0, 2);
	tcase_add_test(tc, test_trace_exit_while_running);
	tcase_add_test(tc, test_trace_resize);
	tcase_add_test(tc, test_trace_monotonic_clock);
	tcase_add_test(tc, test_trace_limit);
	tcase_add_test(tc, test_trace_bad_path);
	tcase_add_test(tc, test_trace_off);
	tc = tu_tcase(s, "gor-trace");
	tcase_add_test(tc, test_gortrace_golden);
	tcase_add_test(tc, test_gortrace_html);
	tcase_add_test(tc, test_gortrace_bad_input);
	return tu_srunner_run(s);
}
