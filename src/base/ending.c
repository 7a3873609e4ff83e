#include "base/ending.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "base/mono.h"

/*
 * RUNNING; RECORDING: a thread is recording the outcome (history line,
 * verdict); RECORDED; SIGNALLED: a signal handler took over first.
 * end_code is the outcome's exit code from RECORDING on.
 */
enum { END_RUNNING, END_RECORDING, END_RECORDED, END_SIGNALLED };
static volatile int end_state;
static volatile int end_code;
static volatile sig_atomic_t got_signal;
static sigset_t end_old;	/* the mask before ending_begin */

void
ending_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
}

void
ending_begin(int code)
{
	sigset_t block, old;
	int st = END_RUNNING;

	ending_signals(&block);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	/* one thread ends a run: only a handler can change the state now */
	if (__atomic_load_n(&end_state, __ATOMIC_ACQUIRE) == END_RUNNING)
		__atomic_store_n(&end_code, code, __ATOMIC_RELEASE);
	if (__atomic_compare_exchange_n(&end_state, &st, END_RECORDING, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		end_old = old;
		return;
	}
	if (st == END_RECORDING)
		return;		/* begun already (history, then verdict) */
	if (st == END_RECORDED) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return;
	}
	/* a handler (in another thread) is ending the program: let it */
	for (;;)
		pause();
}

void
ending_done(void)
{
	if (__atomic_load_n(&end_state, __ATOMIC_ACQUIRE) != END_RECORDING)
		return;
	__atomic_store_n(&end_state, END_RECORDED, __ATOMIC_RELEASE);
	pthread_sigmask(SIG_SETMASK, &end_old, NULL);
}

int
ending_signalled(void)
{
	sigset_t pend, term;
	int sig;

	if (got_signal)
		return 1;
	if (sigpending(&pend) != 0)
		return 0;
	ending_signals(&term);
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&term, sig) == 1 && sigismember(&pend, sig) == 1)
			return 1;
	return 0;
}

void
ending_reset(void)
{
	end_state = END_RUNNING;
	got_signal = 0;
}

int
ending_claim(int *code)
{
	struct timespec ts = { 0, 2 * 1000000L };
	int64_t until;
	int st = END_RUNNING;

	got_signal = 1;
	if (__atomic_compare_exchange_n(&end_state, &st, END_SIGNALLED, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 1;
	/* the outcome is decided (or being recorded by another thread): it
	 * stands, so the exit code always agrees with the history line */
	until = mono_ms() + ENDING_WAIT_MS;
	while (__atomic_load_n(&end_state, __ATOMIC_ACQUIRE) ==
	    END_RECORDING && mono_ms() < until)
		nanosleep(&ts, NULL);
	*code = __atomic_load_n(&end_code, __ATOMIC_ACQUIRE);
	return 0;
}
