#include "run/tool.h"

#include <stdio.h>
#include <string.h>

#include "base/out.h"
#include "base/proc.h"
#include "base/text.h"

#define TOOL_MAX_LONG 16	/* long options of one program, and ours */

/* The common short options, then the program's. */
static void
tool_shorts(const struct tool *t, char *buf, size_t len)
{
	snprintf(buf, len, "%sc:hnV%s%s", (t->flags & TOOL_IN_ORDER) ? "+" :
	    "", (t->flags & TOOL_QUIET) ? "q" : "", t->opts ? t->opts : "");
}

/* --help and --version, then the program's; 0, or -1 when too many. */
static int
tool_longs(const struct tool *t, struct option *out)
{
	static const struct option common[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
	};
	size_t n = 0, i;

	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		out[n++] = common[i];
	for (i = 0; t->longopts != NULL && t->longopts[i].name != NULL; i++) {
		if (n + 1 >= TOOL_MAX_LONG)
			return -1;
		out[n++] = t->longopts[i];
	}
	memset(&out[n], 0, sizeof(out[n]));
	return 0;
}

int
tool_options(struct tool *t, int argc, char **argv, struct status *st)
{
	struct option longs[TOOL_MAX_LONG];
	char shorts[64];
	int c, rc;

	status_clear(st);
	tool_shorts(t, shorts, sizeof(shorts));
	if (tool_longs(t, longs) != 0)
		return status_set(st, ST_SOFTWARE, "%s: too many options",
		    t->name);
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		switch (c) {
		case 'c':
			t->cfgpath = optarg;
			continue;
		case 'n':
			t->check_mode = 1;
			continue;
		case 'q':
			if (t->flags & TOOL_QUIET) {
				out_quiet(1);
				continue;
			}
			break;
		case 'h':
			fputs(t->usage, stdout);
			return TOOL_EXIT;
		case 'V':
			printf("%s %s\n", t->version, PROC_VERSION);
			return TOOL_EXIT;
		case '?':
		case ':':
			break;
		default:
			if (t->option == NULL)
				break;
			rc = t->option(t->self, c, optarg, argc, argv, st);
			if (rc == TOOL_STOP)
				goto done;
			if (rc != ST_OK)
				return rc;
			continue;
		}
		return status_set(st, ST_USAGE, "bad option; see %s -h",
		    t->name);
	}
done:
	t->next = optind;
	if (!(t->flags & TOOL_OPERANDS) && optind < argc)
		return status_set(st, ST_USAGE, "unexpected argument '%.100s'; "
		    "see %s -h", argv[optind], t->name);
	return ST_OK;
}

int
tool_config(const struct tool *t, struct config *c, struct status *st)
{
	return config_load_for(c, t->cfgpath, st);
}

void
tool_plan(const char *who, const struct config *c)
{
	int file = c->path[0] != '\0';

	out_info("%s %s, config %s%s%s", who, PROC_VERSION, file ? "'" : "",
	    file ? c->path : "built-in defaults (no cdgate.ini found)",
	    file ? "'" : "");
}

int
tool_verdict(struct history *h, int code, int skip, const char *msg)
{
	struct status hst;

	if (h != NULL && h->on) {
		/* documented: history never changes a verdict or exit code */
		if (history_record(h, code, skip, msg, proc_elapsed_ms(),
		    &hst) != ST_OK)
			out_info("history not recorded: %s", hst.msg);
		else if (hst.msg[0] != '\0')	/* the lock was not had */
			out_info("%s", hst.msg);
	}
	out_verdict(code, skip, "%s", msg);
	return code;
}
