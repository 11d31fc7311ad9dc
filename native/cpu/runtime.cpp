#include "common.h"

extern "C" void openblas_set_num_threads(int);
extern "C" int openblas_get_num_threads(void);

extern "C" int l4j_version(void) { return 1; }

extern "C" int l4j_set_num_threads(int n) {
    L4J_CHECK(n > 0);
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    return L4J_OK;
}

extern "C" int l4j_get_num_threads(void) { return omp_get_max_threads(); }
