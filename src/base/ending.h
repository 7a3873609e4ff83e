/*
 * ending.h: the end of a run, shared by the thread that records the
 * outcome (history line, verdict) and the signal handler (proc.h).
 *
 * Rules:
 * - ending_begin(code) blocks SIGTERM, SIGINT, SIGHUP and SIGQUIT in the
 *   calling thread (one thread ends a run) and fixes code as the exit code
 *   a signal gets from now on; history_record calls it before it writes
 *   the line, out_verdict before it prints.  Calling it again before
 *   ending_done changes nothing;
 * - ending_done (out_verdict, after the verdict) unblocks them: a signal
 *   then exits with code at once;
 * - a handler that comes first (ending_claim) owns the end: a thread
 *   calling ending_begin then waits for the handler's _exit.
 * Everything the handler calls here is async-signal-safe.
 */
#ifndef CDGATE_ENDING_H
#define CDGATE_ENDING_H

#include <signal.h>

/* A handler waits at most this long for another thread's recording. */
#define ENDING_WAIT_MS 1000

/* SIGTERM and the signals handled like it: SIGINT, SIGHUP, SIGQUIT. */
void ending_signals(sigset_t *set);
void ending_begin(int code);
void ending_done(void);
/* A signal has been handled, or one of them is pending: stop waiting. */
int ending_signalled(void);
/*
 * For the signal handler: 1 when it owns the end (nothing was being
 * recorded); else 0 with *code the recorded outcome's exit code, after
 * waiting at most ENDING_WAIT_MS for the recording to finish.
 */
int ending_claim(int *code);
/* Back to running (proc_start: a forked test program starts anew). */
void ending_reset(void);

#endif
