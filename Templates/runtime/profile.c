/* profile.c: per-step timers, compiled in only when the module is built with -DKILN_PROFILE. */
/* A generated forward brackets each kernel call with KILN_STEP_BEGIN(i) / KILN_STEP_END(i). In a normal build
 * both expand to ((void)0) and the module pays nothing. In a profiling build they record the step's start and
 * end on CLOCK_MONOTONIC into kiln_rt_step_begin / kiln_rt_step_end, thread-local arrays the module declares with
 * one entry per step (thread-local, so two contexts may still run in two threads at once); the module's
 * <name>_infer_all copies them into its context, and <name>_profile hands them out. */
#ifdef KILN_PROFILE
#include <time.h>

/* Nanoseconds on the monotonic clock (its origin is arbitrary: only differences mean anything). */
KILN_RT_MAYBE_UNUSED static unsigned long long kiln_rt_now_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (unsigned long long)now.tv_sec * 1000000000ULL + (unsigned long long)now.tv_nsec;
}

#define KILN_STEP_BEGIN(i) (kiln_rt_step_begin[(i)] = kiln_rt_now_ns())
#define KILN_STEP_END(i) (kiln_rt_step_end[(i)] = kiln_rt_now_ns())
#else
#define KILN_STEP_BEGIN(i) ((void)0)
#define KILN_STEP_END(i) ((void)0)
#endif
