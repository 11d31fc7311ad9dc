// L4J_HD marks an inline function the CPU kernels share with their CUDA twins: a host and device function under nvcc,
// a plain inline function for g++ (the CPU library, and the CUDA emulation, where device code is host code).
#pragma once
#ifdef __CUDACC__
#define L4J_HD __host__ __device__ __forceinline__
#else
#define L4J_HD inline
#endif
