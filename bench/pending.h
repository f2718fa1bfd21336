/*
 * pending.h - the -timer flag of yield and pingpong (not in the anchors): a
 * gor_after timer set that far ahead stays pending through the run, as a
 * program's ticker or timeout would, so that the figure includes what a
 * pending timer costs each switch. The run fails if the timer fired before
 * its end. Include after bench.h and gor.h.
 */
#ifndef GOR_BENCH_PENDING_H
#define GOR_BENCH_PENDING_H

/* The pending timer, or NULL for -timer 0. */
static gor_chan *bench_pending_timer(int64_t ahead)
{
	if (ahead <= 0)
		return NULL;
	gor_chan *c = gor_after(ahead);
	if (c == NULL)
		bench_fail("gor_after: %s", strerror(errno));
	return c;
}

/* At the end of the timed part: it must still be pending. Frees it. */
static void bench_check_pending(gor_chan *c)
{
	int64_t v;

	if (c == NULL)
		return;
	if (gor_try_recv(c, &v) == 1)
		bench_fail("the -timer fired during the run: set it further ahead");
	gor_chan_free(c);
}

/* " timer_ms=N" for the result line, "" without a timer. */
static const char *bench_timer_key(int64_t ahead)
{
	static char key[48];

	if (ahead <= 0)
		return "";
	/* whole milliseconds, as the Go twin's Duration.Milliseconds */
	snprintf(key, sizeof key, " timer_ms=%lld", (long long)(ahead / GOR_MILLISECOND));
	return key;
}

#endif /* GOR_BENCH_PENDING_H */
