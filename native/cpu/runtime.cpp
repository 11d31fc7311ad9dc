#include "common.h"

extern "C" void openblas_set_num_threads(int);
extern "C" char *openblas_get_corename(void);

namespace {
// OpenBLAS stays single-threaded: l4j_gemm parallelises over OpenMP threads itself (see gemm.cpp).
struct SingleThreadedBlas {
    SingleThreadedBlas() { openblas_set_num_threads(1); }
} single_threaded_blas;
}  // namespace

extern "C" int l4j_version(void) { return 1; }

extern "C" int l4j_set_num_threads(int n) {
    L4J_CHECK(n > 0);
    omp_set_num_threads(n);
    openblas_set_num_threads(1);
    return L4J_OK;
}

extern "C" int l4j_get_num_threads(void) { return omp_get_max_threads(); }

extern "C" const char *l4j_blas_corename(void) { return openblas_get_corename(); }
