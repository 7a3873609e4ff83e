/*
 * tool.h: the skeleton every program shares, hooks and helpers alike: the
 * option loop with the common options, the configuration, the plan's first
 * line and the verdict.  The programs keep only what is theirs: their own
 * options (a callback), their work, and how they end.
 *
 * Rules:
 * - common options: -c FILE (the configuration), -n (check mode), -h and
 *   --help (the usage, exit 0), -V and --version (the version, exit 0), and
 *   -q (only the verdict) for the programs that accept it (TOOL_QUIET);
 * - a bad option or an unwanted operand is ST_USAGE with "bad option; see
 *   NAME -h" or "unexpected argument '...'; see NAME -h" in st: the library
 *   returns, the program prints its verdict (tool_verdict or its own);
 * - the verdict is recorded in the history line first (when one was begun)
 *   and printed last: a history that cannot be written prints one line and
 *   never changes the verdict or the exit code.
 */
#ifndef CDGATE_TOOL_H
#define CDGATE_TOOL_H

#include <getopt.h>

#include "base/status.h"
#include "fmt/history.h"
#include "run/config.h"

#define TOOL_QUIET	0x1	/* -q is accepted */
#define TOOL_OPERANDS	0x2	/* operands are the program's (argv[next..]) */
#define TOOL_IN_ORDER	0x4	/* options end at the first operand ("+") */
#define TOOL_STOP	1	/* an option callback: stop parsing here */
#define TOOL_EXIT	(-1)	/* tool_options: -h or -V printed, exit 0 */

struct tool {
	const char *name;	/* "cdgate-tag", "before-install": messages */
	const char *version;	/* -V prints "VERSION X.Y.Z" */
	const char *usage;	/* -h prints it as it is */
	const char *opts;	/* the program's own short options (getopt) */
	const struct option *longopts;	/* its own long ones, or NULL */
	int flags;		/* TOOL_QUIET, TOOL_OPERANDS, TOOL_IN_ORDER */
	/*
	 * One option of the program's own (c: its letter or long code; arg:
	 * optarg; the callback may advance optind over operands it takes):
	 * ST_OK, TOOL_STOP, or a failure in st.
	 */
	int (*option)(void *self, int c, const char *arg, int argc,
	    char **argv, struct status *st);
	void *self;
	/* what the common options set */
	const char *cfgpath;	/* -c, or NULL: the search */
	int check_mode;		/* -n */
	int next;		/* the first argument not parsed */
};

/*
 * Parses argv: ST_OK, TOOL_EXIT (help or version printed), or ST_USAGE
 * (or the callback's failure) in st.
 */
int tool_options(struct tool *t, int argc, char **argv, struct status *st);
/* The configuration: -c's file, or the search (config.h). */
int tool_config(const struct tool *t, struct config *c, struct status *st);
/* The plan's first line: "WHO VERSION, config 'PATH'". */
void tool_plan(const char *who, const struct config *c);
/*
 * The end of a run: records code, skip and msg in h (when begun), then
 * prints the verdict; returns code.
 */
int tool_verdict(struct history *h, int code, int skip, const char *msg);

#endif
