/*
 * proc.h: start-up hygiene and SIGTERM, shared by every program.
 *
 * proc_start MUST be the first call of every main.  It:
 * - opens /dev/null on any of fds 0-2 that is closed;
 * - joins stderr to stdout (one stream, order kept) and makes stdout
 *   line-buffered;
 * - ignores SIGPIPE (a closed pipe is an error, not a death by signal);
 * - makes the process non-dumpable and RLIMIT_CORE 0: no core file, which
 *   would hold the IMDS token and role credentials (also for SIGQUIT,
 *   which is handled anyway);
 * - raises a soft RLIMIT_NOFILE below PROC_MIN_FDS, or fails (exit 71)
 *   when the hard limit is below it;
 * - installs the SIGTERM/SIGINT/SIGHUP/SIGQUIT handler, then unblocks those
 *   signals: a mask inherited with them blocked (and dispositions inherited
 *   as SIG_IGN) must not leave the program unstoppable.
 *
 * The handler only uses async-signal-safe calls: it removes a registered
 * temporary file, sends SIGTERM to a registered child's process group (and
 * waits at most PROC_CHILD_GRACE_MS for it, then SIGKILLs the group and
 * reaps it: nothing it started outlives the program holding its stdout),
 * writes the prepared verdict line with the elapsed time, runs a registered
 * async-signal-safe hook (history) and _exits with ST_TERM.  So SIGTERM ends any program
 * within 100 ms, whatever it is blocked in and whatever its child does.
 * Once the outcome is being recorded (ending.h), a signal no longer
 * changes it: the handler exits with the outcome's code, printing nothing
 * more, so the exit code always agrees with the history line and the
 * verdict (docs/dev/bad-input.md, "Signals, output and system limits").
 */
#ifndef CDGATE_PROC_H
#define CDGATE_PROC_H

#include <sys/types.h>

#define PROC_VERSION "0.1.0"
/*
 * SIGTERM must end a program within 100 ms (docs/dev/agent.md): a child
 * gets
 * PROC_CHILD_GRACE_MS to exit on the SIGTERM passed on, then its group is
 * SIGKILLed and given PROC_CHILD_KILL_MS to be gone, polled every
 * PROC_CHILD_POLL_MS.
 */
#define PROC_CHILD_GRACE_MS 30
#define PROC_CHILD_KILL_MS  20
#define PROC_CHILD_POLL_MS  2
/* Fewer file descriptors (ulimit -n, hard limit) end a program at start. */
#define PROC_MIN_FDS        32

void proc_start(const char *label);
/* The verdict line printed if SIGTERM arrives ("... FAIL: " + this). */
void proc_on_term(const char *reason);
/* A temporary file to unlink if killed (NULL: none).  Must stay valid. */
void proc_term_unlink(const char *path);
/*
 * A child to end with the program (0: none).  It MUST lead its own process
 * group (setpgid in the child and the parent): SIGTERM goes to that whole
 * group, and whatever is left of it after PROC_CHILD_GRACE_MS is killed.
 * It MUST NOT rely on more time than that to clean up on SIGTERM.
 */
void proc_term_child(pid_t pid);
/*
 * An async-signal-safe function called before _exit on SIGTERM (and on
 * SIGINT or SIGHUP), with the signal.
 */
void proc_term_hook(void (*fn)(int sig, int elapsed_ms));
/*
 * Writes v in decimal to buf (no NUL; room for 20 digits); returns the
 * length.  Async-signal-safe, for SIGTERM hooks.
 */
size_t proc_fmt_ulong(char *buf, unsigned long v);
/* Milliseconds since proc_start. */
long proc_elapsed_ms(void);
/*
 * fork() for a child that leads its own process group and is registered
 * with proc_term_child, with no signal between; in the child the signal
 * mask is empty, every disposition SIG_DFL and RLIMIT_CORE as inherited
 * (proc_child_reset), so a command runs as if started by the agent.
 */
pid_t proc_fork_group(void);
void proc_child_reset(void);

#endif
