/* dist.h - data parallelism across processes (Open MPI when medfm is built with it).
 *
 * A process started by mpirun (or another MPI launcher) joins the job; any other process is a
 * job of one, whether or not medfm was built with MPI.  Every call is collective: every rank
 * makes the same calls in the same order.
 */
#ifndef MF_TRAIN_DIST_H
#define MF_TRAIN_DIST_H

#include <stddef.h>
#include <stdint.h>

/* Join the job when launched by an MPI launcher.  Returns 0, or an MF_E* code. */
int mf_dist_init(void);
void mf_dist_finalize(void);
int mf_dist_rank(void);
int mf_dist_size(void);
/* Sum buf over the ranks, in place, on every rank. */
int mf_dist_sum_f32(float *buf, size_t n);
int mf_dist_sum_f64(double *buf, size_t n);
/* The largest value of v over the ranks. */
int mf_dist_max_int(int *v);
/* 1 when v is the same on every rank (0 when not, or when the exchange failed). */
int mf_dist_same_u64(uint64_t v);
/* 1 when this build can join MPI jobs. */
int mf_dist_available(void);

#endif
