/*
 * main.c - gor-trace: reads a trace written with GOR_TRACE=PATH and
 * prints an ASCII timeline and a summary, or writes an HTML page.
 *
 *   gor-trace [options] TRACE.json
 *     -w, --width N            timeline columns (default 72)
 *     -g, --max-goroutines N   goroutine lanes at most (default 24)
 *     --no-timeline            the summary only
 *     --no-summary             the timeline only
 *     --html FILE              also write a self-contained HTML page
 *     -h, --help
 *
 * Exit status: 0, 1 when the trace cannot be read or the page written,
 * 2 for a usage error. docs/tracing.md explains the output.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "gortrace.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: gor-trace [-w N] [-g N] [--no-timeline] [--no-summary] [--html FILE] TRACE.json\n"
		   "  -w, --width N            timeline columns (default 72)\n"
		   "  -g, --max-goroutines N   goroutine lanes at most (default 24)\n"
		   "  --no-timeline            print the summary only\n"
		   "  --no-summary             print the timeline only\n"
		   "  --html FILE              write a self-contained HTML page too\n");
}

static int number(const char *s, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_NOTIMELINE = 256, OPT_NOSUMMARY, OPT_HTML };
	static const struct option longopts[] = {
		{"width", required_argument, NULL, 'w'},
		{"max-goroutines", required_argument, NULL, 'g'},
		{"no-timeline", no_argument, NULL, OPT_NOTIMELINE},
		{"no-summary", no_argument, NULL, OPT_NOSUMMARY},
		{"html", required_argument, NULL, OPT_HTML},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct gt_textopts o = {.width = 72, .maxg = 24, .timeline = true, .summary = true};
	const char *html = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "w:g:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			if (number(optarg, 8, 10000, &o.width) != 0) {
				fprintf(stderr, "gor-trace: --width wants a number from 8 to 10000\n");
				return 2;
			}
			break;
		case 'g':
			if (number(optarg, 0, 1000000, &o.maxg) != 0) {
				fprintf(stderr, "gor-trace: --max-goroutines wants a number >= 0\n");
				return 2;
			}
			break;
		case OPT_NOTIMELINE:
			o.timeline = false;
			break;
		case OPT_NOSUMMARY:
			o.summary = false;
			break;
		case OPT_HTML:
			html = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *path = argv[optind];
	struct gt_trace t;
	char err[512];
	if (gt_load(&t, path, err, sizeof err) != 0) {
		fprintf(stderr, "gor-trace: %s\n", err);
		return 1;
	}
	int rc = 0;
	gt_text(&t, &o, stdout);
	if (html) {
		FILE *f = fopen(html, "w");
		const char *base = strrchr(path, '/');
		bool ok = f != NULL && gt_html(&t, base ? base + 1 : path, f) == 0;
		if (f != NULL && fclose(f) != 0)
			ok = false;
		if (!ok) {
			fprintf(stderr, "gor-trace: cannot write %s: %s\n", html, strerror(errno));
			rc = 1;
		}
	}
	gt_free(&t);
	return rc;
}
