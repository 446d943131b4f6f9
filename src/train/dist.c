/* dist.c - data parallelism across processes: Open MPI when built with it, else a job of one. */
#include "train/dist.h"

#include <limits.h>
#include <stdlib.h>

#include "core/err.h"

#ifdef MEDFM_HAVE_MPI
#include <mpi.h>

static int joined, rank, size = 1;

/* Launched by an MPI launcher (Open MPI, or any PMI/PMIx one)? */
static int launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int mf_dist_init(void)
{
    if (joined || !launched())
        return 0;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return MF_EIO;
    joined = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return 0;
}

void mf_dist_finalize(void)
{
    if (joined)
        MPI_Finalize();
    joined = 0;
    rank = 0;
    size = 1;
}

int mf_dist_rank(void)
{
    return rank;
}

int mf_dist_size(void)
{
    return size;
}

/* MPI counts are ints: large buffers go in pieces. */
static int sum(void *buf, size_t n, MPI_Datatype t, size_t elem)
{
    char *p = buf;
    while (n) {
        int k = n > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)n;
        if (MPI_Allreduce(MPI_IN_PLACE, p, k, t, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return MF_EIO;
        p += (size_t)k * elem;
        n -= (size_t)k;
    }
    return 0;
}

int mf_dist_sum_f32(float *buf, size_t n)
{
    return size > 1 ? sum(buf, n, MPI_FLOAT, sizeof *buf) : 0;
}

int mf_dist_sum_f64(double *buf, size_t n)
{
    return size > 1 ? sum(buf, n, MPI_DOUBLE, sizeof *buf) : 0;
}

int mf_dist_max_int(int *v)
{
    if (size <= 1)
        return 0;
    return MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) == MPI_SUCCESS
               ? 0
               : MF_EIO;
}

int mf_dist_same_u64(uint64_t v)
{
    if (size <= 1)
        return 1;
    uint64_t hi = v, lo = v;
    if (MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS ||
        MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS)
        return 0;
    return hi == lo;
}

int mf_dist_available(void)
{
    return 1;
}

#else

int mf_dist_init(void)
{
    return 0;
}

void mf_dist_finalize(void)
{
}

int mf_dist_rank(void)
{
    return 0;
}

int mf_dist_size(void)
{
    return 1;
}

int mf_dist_sum_f32(float *buf, size_t n)
{
    (void)buf;
    (void)n;
    return 0;
}

int mf_dist_sum_f64(double *buf, size_t n)
{
    (void)buf;
    (void)n;
    return 0;
}

int mf_dist_max_int(int *v)
{
    (void)v;
    return 0;
}

int mf_dist_same_u64(uint64_t v)
{
    (void)v;
    return 1;
}

int mf_dist_available(void)
{
    return 0;
}

#endif
